import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeeds, seedsFromEnv } from '../testing/seeds.ts';
import type { GossipConfig } from './config.ts';
import { MemberState } from './messages.ts';
import { SimCluster } from './sim-cluster.ts';

// Simulated clusters of real GossipNodes on a virtual clock. Every figure is virtual time, so the
// assertions are exact functions of the seed; a failure prints the seed that replays it.
// SKEIN_GOSSIP_FULL=1 runs the full 10,000-period false-positive runs at 50 members too.

const full = process.env['SKEIN_GOSSIP_FULL'] === '1';
const report = process.env['SKEIN_GOSSIP_REPORT'] === '1';

function ids(n: number, prefix = 'n'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Crash one random member of a formed cluster; return [first declaration, everyone knows] in ms. */
function measureDetection(seed: number, n: number, config: Partial<GossipConfig> = {}): [number, number] {
  const cluster = new SimCluster({ seed, config });
  const members = ids(n);
  cluster.start(members);
  cluster.advance(5_000 + cluster.random.int(1_000));
  const victim = members[1 + cluster.random.int(n - 1)]!;
  const crashMs = cluster.clock.now();
  cluster.crash(victim);
  const allMs = cluster.runUntil(() => cluster.allSee(victim, MemberState.Dead), 120_000, 'detection', 10);
  const firstMs = Math.min(...cluster.eventsAbout(victim, 'dead').map((e) => e.event.atMs)) - crashMs;
  const falseDeaths = cluster.events.filter((e) => e.event.type === 'dead' && e.event.member.id !== victim);
  assert.equal(falseDeaths.length, 0, 'no live member may be declared dead');
  cluster.close();
  return [firstMs, allMs];
}

for (const [n, runs, medianBoundMs, maxBoundMs] of [
  [3, 20, 7_000, 15_000],
  [10, 20, 7_000, 15_000],
  [50, 5, 10_000, 20_000],
] as const) {
  test(`a crashed member is detected by all in a ${n}-member cluster (defaults)`, () => {
    const first: number[] = [];
    const all: number[] = [];
    runSeeds(`gossip detection n=${n}`, seedsFromEnv(runs), (seed) => {
      const [f, a] = measureDetection(seed, n);
      assert.ok(a <= maxBoundMs, `detection took ${a} ms`);
      first.push(f);
      all.push(a);
    });
    if (report) console.log(`n=${n}: median first ${median(first)} ms, median all ${median(all)} ms`);
    assert.ok(median(all) <= medianBoundMs, `median detection ${median(all)} ms`);
  });
}

test('detection is configurably faster: 10 members, 200 ms probes, suspicion mult 2', () => {
  const fast: Partial<GossipConfig> = {
    probeIntervalMs: 200,
    probeTimeoutMs: 80,
    gossipIntervalMs: 50,
    suspicionMult: 2,
  };
  const all: number[] = [];
  runSeeds('gossip fast detection', seedsFromEnv(20), (seed) => {
    all.push(measureDetection(seed, 10, fast)[1]);
  });
  if (report) console.log(`fast config n=10: median all ${median(all)} ms`);
  assert.ok(median(all) <= 1_500, `median detection ${median(all)} ms`);
});

function falsePositiveRun(seed: number, n: number, periods: number, lossRate: number): void {
  const cluster = new SimCluster({ seed });
  const members = ids(n);
  cluster.start(members);
  cluster.network.setDefaultFaults({ lossRate });
  const from = cluster.events.length;
  cluster.advance(periods * cluster.node('n1').config.probeIntervalMs);
  const events = cluster.events.slice(from);
  const deaths = events.filter((e) => e.event.type === 'dead' || e.event.type === 'leave');
  assert.deepEqual(deaths, [], 'a live member was declared dead');
  const suspicions = events.filter((e) => e.event.type === 'suspect').length;
  if (report)
    console.log(`n=${n} loss=${lossRate}: ${periods} periods, ${suspicions} suspect events, 0 deaths`);
  // Suspicions do happen at this loss rate (so the run did exercise refutation) ...
  assert.ok(suspicions > 0);
  // ... and every one was refuted: everybody sees everybody alive at the end.
  cluster.network.setDefaultFaults({ lossRate: 0 });
  cluster.runUntil(() => cluster.converged(members), 30_000, 'settling');
  cluster.close();
}

for (const lossRate of [0.05, 0.1]) {
  test(`no false positives over 10,000 protocol periods at ${lossRate * 100}% loss (10 members)`, () => {
    runSeeds(`gossip false positives n=10 loss=${lossRate}`, seedsFromEnv(1), (seed) => {
      falsePositiveRun(seed, 10, 10_000, lossRate);
    });
  });
  test(`no false positives at ${lossRate * 100}% loss (50 members, ${full ? '10,000' : '1,000'} periods)`, () => {
    runSeeds(`gossip false positives n=50 loss=${lossRate}`, seedsFromEnv(1), (seed) => {
      falsePositiveRun(seed, 50, full ? 10_000 : 1_000, lossRate);
    });
  });
}

test('a partition splits the cluster into two working views that merge after heal', () => {
  runSeeds('gossip partition heal', seedsFromEnv(3), (seed) => {
    const cluster = new SimCluster({ seed });
    const members = ids(10);
    const left = members.slice(0, 5);
    const right = members.slice(5);
    cluster.start(members);
    cluster.network.partition(left, right);
    // Each side declares the other dead and carries on with its own view.
    cluster.runUntil(() => cluster.converged(left) && cluster.converged(right), 120_000, 'split views');
    cluster.advance(60_000);
    assert.ok(cluster.converged(left) && cluster.converged(right), 'each side keeps a stable view');
    cluster.network.heal();
    const healMs = cluster.runUntil(() => cluster.converged(members), 120_000, 'merge after heal');
    if (report) console.log(`partition heal converged in ${healMs} ms`);
  });
});

test('a member stalled for less than the suspicion timeout is not declared dead', () => {
  runSeeds('gossip stall', seedsFromEnv(5), (seed) => {
    const cluster = new SimCluster({ seed });
    const members = ids(10);
    cluster.start(members);
    cluster.advance(3_000);
    // The minimum suspicion timeout at 10 members is 4 × log10(10) × 1 s = 4 s, and it only
    // starts once a probe has failed; a 3.5 s freeze (SIGSTOP-like) must survive.
    cluster.stall('n4', 3_500);
    cluster.advance(30_000);
    assert.ok(cluster.eventsAbout('n4', 'suspect').length > 0, 'the stall was long enough to be suspected');
    assert.deepEqual(cluster.eventsAbout('n4', 'dead'), []);
    assert.ok(cluster.converged(members));
  });
});

test('a member stalled far beyond the suspicion timeout is declared dead, then rejoins', () => {
  runSeeds('gossip long stall', seedsFromEnv(3), (seed) => {
    const cluster = new SimCluster({ seed });
    const members = ids(10);
    cluster.start(members);
    cluster.stall('n4', 60_000);
    cluster.runUntil(() => cluster.allSee('n4', MemberState.Dead), 60_000, 'declared dead');
    cluster.runUntil(() => cluster.converged(members), 60_000, 'rejoined after the stall');
    assert.ok(cluster.node('n4').incarnation > 0, 'it refuted its death with a higher incarnation');
  });
});

test('join storm: 50 members joining at once through three seeds converge', () => {
  runSeeds('gossip join storm', seedsFromEnv(2), (seed) => {
    const cluster = new SimCluster({ seed });
    const members = ids(50);
    const seeds = members.slice(0, 3);
    for (const id of members) cluster.add(id, seeds);
    const ms = cluster.runUntil(() => cluster.converged(members), 60_000, 'join storm convergence');
    if (report) console.log(`join storm of 50 converged in ${ms} ms`);
    assert.deepEqual(
      cluster.events.filter((e) => e.event.type === 'dead'),
      [],
    );
  });
});

test('leave storm: 20 of 50 members leave at once; the rest see them left, not dead', async () => {
  for (const seed of seedsFromEnv(2)) {
    const cluster = new SimCluster({ seed });
    const members = ids(50);
    cluster.start(members);
    const leavers = members.slice(30);
    const done = leavers.map((id) => cluster.node(id).leave());
    cluster.advance(5_000);
    await Promise.all(done);
    for (const id of leavers) cluster.nodes.delete(id);
    const stay = members.slice(0, 30);
    cluster.runUntil(() => cluster.converged(stay), 30_000, `leave storm convergence (seed ${seed})`);
    for (const id of leavers) {
      assert.ok(cluster.allSee(id, MemberState.Left), `seed ${seed}: ${id} seen as left everywhere`);
      assert.deepEqual(cluster.eventsAbout(id, 'dead'), [], `seed ${seed}: ${id} never declared dead`);
    }
  }
});

test('metadata updates reach every member with an update event', () => {
  runSeeds('gossip metadata', seedsFromEnv(2), (seed) => {
    const cluster = new SimCluster({ seed });
    const members = ids(10);
    cluster.start(members);
    cluster.node('n3').updateMetadata({ role: 'cache', capacity: 64, cpu: 0.25 });
    cluster.runUntil(
      () => members.every((id) => cluster.node(id).member('n3')?.metadata['role'] === 'cache'),
      10_000,
      'metadata dissemination',
    );
    assert.equal(cluster.eventsAbout('n3', 'update').length, members.length - 1);
  });
});
