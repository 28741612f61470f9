/**
 * Groups on a simulated coordination cluster (issue 5): three Raft members with the replicated
 * CoordinationState and the leader's lease and settle clocks, real GroupMembers heartbeating over
 * simulated links, leader crashes, member crashes and partitions — on virtual time, over many
 * seeds. Every run is checked by a GroupWatch (no shared index, one generation in force, stable
 * assignments, agreement with the committed settles). `SKEIN_SEED=<n>` replays one seed;
 * `SKEIN_SIM_SEEDS=<n>` runs more.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Random } from '../core/random.ts';
import { GroupState } from '../membership/commands.ts';
import { joinGroup, type GroupMember, type IndexTotal } from '../membership/member.ts';
import { seedsFromEnv } from '../testing/seeds.ts';
import { GroupsCluster, SIM_MAX_ELECTION_MS, SimCoordinator } from './groups-sim-harness.ts';
import { GroupWatch } from './groups-sim-invariants.ts';

const GROUP = 'workers';
const MEMBERS = 5;
const HEARTBEAT_MS = 1_000;
const TTL_SECONDS = 2;
const SETTLE_MS = 1_500;
/** The member's cadence (¾ of the interval) plus a round trip: how late a member may learn a change. */
const HEAR_MS = (HEARTBEAT_MS * 3) / 4 + 2 * 20 + 20;
/** Apply latency of a proposal (a few network hops and ticks) and the lease clock's 100 ms check. */
const COMMIT_SLACK_MS = 150;
/**
 * How long a member back in reach takes to be in the group again: its heartbeat sent while cut
 * off times out (one interval), the next one finds its session gone, and it re-joins.
 */
const REJOIN_MS = HEARTBEAT_MS + HEAR_MS + 2 * COMMIT_SLACK_MS;

const SEEDS = seedsFromEnv(Number(process.env['SKEIN_SIM_SEEDS'] ?? 12));

interface World {
  readonly cluster: GroupsCluster;
  readonly random: Random;
  readonly watch: GroupWatch;
  readonly members: GroupMember[];
  readonly links: SimCoordinator[];
}

/** Run `scenario` for every seed; a failure names its seed and how to replay it. */
async function forEachSeed(scenario: (world: World) => Promise<void>): Promise<void> {
  for (const seed of SEEDS) {
    const cluster = new GroupsCluster(seed);
    const world: World = {
      cluster,
      random: cluster.sim.random.fork(),
      watch: new GroupWatch(cluster),
      members: [],
      links: [],
    };
    try {
      await scenario(world);
      world.watch.assertOk();
      assert.ok(world.watch.checks > 100, 'the invariants were hardly checked');
    } catch (error) {
      throw new Error(`seed ${seed} failed (replay: SKEIN_SEED=${seed}): ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      world.watch.stop();
      for (const [i, member] of world.members.entries()) {
        world.links[i]!.cutOff = true;
        void member.leave();
      }
      cluster.stopAll();
    }
  }
}

/** Join member `m<i>` (retrying while there is no leader), watched from its first answer. */
async function join(world: World, i: number): Promise<GroupMember> {
  const { cluster } = world;
  const link = new SimCoordinator(cluster, world.random.fork());
  for (let attempt = 0; ; attempt++) {
    try {
      const member = await cluster.sim.settle(
        joinGroup(link, GROUP, {
          clock: cluster.clock,
          memberId: `m${i}`,
          heartbeatIntervalMs: HEARTBEAT_MS,
          sessionTtlSeconds: TTL_SECONDS,
          settleMs: SETTLE_MS,
        }),
        10_000,
      );
      world.members.push(member);
      world.links.push(link);
      world.watch.add(member);
      return member;
    } catch (error) {
      if (attempt >= 10) throw error;
      await cluster.sim.runFor(200);
    }
  }
}

/** Bring the cluster up and join `count` members, staggered by up to 100 ms; returns the last join's time. */
async function startGroup(world: World, count = MEMBERS): Promise<number> {
  await world.cluster.waitForLeader();
  world.watch.start();
  for (let i = 1; i <= count; i++) {
    await join(world, i);
    await world.cluster.sim.runFor(world.random.int(100));
  }
  return world.cluster.clock.now();
}

/** The members that hold an assignment now, and whether they agree on one generation. */
function views(world: World, members = world.members): (IndexTotal | null)[] {
  return members.map((m) => m.indexTotal());
}

/** True when each of `members` holds an assignment of the same generation, numbered 1..n. */
function settledAs(world: World, members: readonly GroupMember[]): boolean {
  const all = views(world, [...members]);
  if (all.some((v) => v === null)) return false;
  const held = all as IndexTotal[];
  const generation = held[0]!.generation;
  const indexes = held.map((v) => v.index).sort((a, b) => a - b);
  return (
    held.every((v) => v.generation === generation && v.total === members.length) &&
    indexes.every((index, k) => index === k + 1)
  );
}

async function untilSettled(world: World, members: readonly GroupMember[], maxMs: number): Promise<number> {
  const from = world.cluster.clock.now();
  const ok = await world.cluster.sim.runUntil(() => settledAs(world, members), maxMs);
  world.watch.assertOk();
  assert.ok(ok, `not settled as ${members.length} within ${maxMs} ms: ${describe(world)}`);
  return world.cluster.clock.now() - from;
}

function describe(world: World): string {
  return world.members
    .map((m) => {
      const it = m.indexTotal();
      return `${m.id}=${it === null ? '-' : `${it.index}/${it.total}@${it.generation}`}`;
    })
    .join(' ');
}

/** Crash the leader, wait for a new one; returns when the new leader took over. */
async function crashLeader(world: World): Promise<{ crashed: string; newLeaderAtMs: number }> {
  const { cluster } = world;
  const crashed = cluster.leader()!.id;
  cluster.crash(crashed);
  const elected = await cluster.sim.runUntil(() => cluster.leader() !== undefined, 5_000);
  assert.ok(elected, 'no new leader after the crash');
  return { crashed, newLeaderAtMs: cluster.clock.now() };
}

function highestGeneration(world: World): number {
  return Math.max(0, ...world.cluster.settles.keys());
}

test('a leader crash while the group is SETTLING: it still settles, a full settle period after the new leader took over at most', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    await startGroup(world);
    const lastChangeMs = cluster.lastChangeAtMs;
    await cluster.sim.runFor(Math.max(0, lastChangeMs + random.int(SETTLE_MS - 50) - cluster.clock.now()));
    assert.equal(cluster.settles.size, 0, 'settled within the settle period');
    const { crashed, newLeaderAtMs } = await crashLeader(world);
    await cluster.sim.runFor(random.int(1_000));
    cluster.restart(crashed);
    await untilSettled(
      world,
      world.members,
      newLeaderAtMs + SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS - cluster.clock.now(),
    );
    const [settle, ...more] = cluster.settles.values();
    assert.equal(more.length, 0, 'settled more than once');
    // Never early (the cluster checks every settle against its change), and not late either.
    assert.ok(settle!.firstAppliedAtMs >= lastChangeMs + SETTLE_MS);
    assert.ok(
      settle!.firstAppliedAtMs <= newLeaderAtMs + SETTLE_MS + COMMIT_SLACK_MS,
      `settled ${settle!.firstAppliedAtMs - newLeaderAtMs} ms after the new leader took over`,
    );
  });
});

test('a leader crash while the group is SETTLED keeps its assignment and generation when no member changed', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    await startGroup(world);
    await untilSettled(world, world.members, SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS + 500);
    const before = views(world);
    const generation = highestGeneration(world);
    for (let failover = 0; failover < 2; failover++) {
      await cluster.sim.runFor(random.int(2_000));
      const { crashed } = await crashLeader(world);
      await cluster.sim.runFor(random.int(1_500));
      cluster.restart(crashed);
    }
    // Long enough for any lease the failovers lost to expire and its group to settle again.
    await cluster.sim.runFor(TTL_SECONDS * 1000 + SIM_MAX_ELECTION_MS + SETTLE_MS + HEAR_MS);
    await untilSettled(world, world.members, HEAR_MS);
    assert.equal(highestGeneration(world), generation, 'the group settled again');
    assert.deepEqual(views(world), before, 'the assignment changed across the failovers');
    const view = cluster.state(cluster.leader()!.id).groups.group(GROUP)!;
    assert.equal(view.state, GroupState.Settled);
    assert.equal(view.generation, generation);
  });
});

/** Fail over to a new leader at a random moment within `withinMs`; returns when it took over. */
async function failoverWithin(world: World, withinMs: number): Promise<number> {
  const { cluster, random } = world;
  await cluster.sim.runFor(random.int(withinMs));
  const { crashed, newLeaderAtMs } = await crashLeader(world);
  await cluster.sim.runFor(random.int(1_000));
  cluster.restart(crashed);
  return newLeaderAtMs;
}

/** Latest time the others must have settled without a member that went silent at `silentAtMs`. */
function evictedBy(silentAtMs: number, takeoverMs: number): number {
  const expiredMs = Math.max(silentAtMs, takeoverMs) + TTL_SECONDS * 1000 + COMMIT_SLACK_MS;
  return expiredMs + SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS;
}

test('a member that dies without leaving is evicted, and the others re-settle as 1..n-1 within TTL + settle (+ an election)', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    await startGroup(world);
    await untilSettled(world, world.members, SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS + 500);
    const generation = highestGeneration(world);
    await cluster.sim.runFor(random.int(2_000));
    const victim = random.int(MEMBERS);
    const link = world.links[victim]!;
    const killedAtMs = cluster.clock.now();
    link.cutOff = true; // its last words never arrive: the leave below is a crash to the coordinator
    void world.members[victim]!.leave();
    const lastHeardMs = link.lastAnsweredSentAtMs;
    // Half the runs also lose the leader before the lease runs out: the new one restarts its TTL.
    const takeoverMs = random.chance(0.5) ? await failoverWithin(world, TTL_SECONDS * 1000) : killedAtMs;
    const survivors = world.members.filter((_, i) => i !== victim);
    await untilSettled(world, survivors, evictedBy(killedAtMs, takeoverMs) - cluster.clock.now());
    const resettle = cluster.settles.get(highestGeneration(world))!;
    assert.ok(resettle.generation > generation);
    assert.equal(resettle.assignment.has(world.members[victim]!.id), false);
    assert.ok(
      resettle.firstAppliedAtMs >= lastHeardMs + TTL_SECONDS * 1000 + SETTLE_MS,
      `evicted and settled ${resettle.firstAppliedAtMs - lastHeardMs} ms after its last heartbeat was sent`,
    );
  });
});

/**
 * The fencing property: a member cut off from the coordinator drops its index within one
 * heartbeat interval of the last heartbeat that was answered — strictly before the others can
 * have settled into a generation that hands its index to someone else (the watch checks that no
 * two members ever hold one index at once). Back in reach, it re-joins under a new session.
 */
test('a member cut off from the coordinator sees null within its heartbeat interval, before the others can settle without it', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    await startGroup(world);
    await untilSettled(world, world.members, SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS + 500);
    const generation = highestGeneration(world);
    await cluster.sim.runFor(random.int(2_000));
    const victim = random.int(MEMBERS);
    const member = world.members[victim]!;
    const link = world.links[victim]!;
    link.cutOff = true;
    const cutAtMs = cluster.clock.now();
    const fencedAtMs = link.lastAnsweredSentAtMs + HEARTBEAT_MS;
    assert.ok(fencedAtMs > cutAtMs, 'the member had not been heard from for a whole interval');
    const takeoverMs = random.chance(0.5) ? await failoverWithin(world, TTL_SECONDS * 1000) : cutAtMs;
    await cluster.sim.runFor(Math.max(0, fencedAtMs + 1 - cluster.clock.now()));
    assert.equal(
      member.indexTotal(),
      null,
      `still holds an index ${cluster.clock.now() - fencedAtMs} ms after`,
    );
    const survivors = world.members.filter((_, i) => i !== victim);
    await untilSettled(world, survivors, evictedBy(cutAtMs, takeoverMs) - cluster.clock.now());
    const resettle = cluster.settles.get(highestGeneration(world))!;
    assert.ok(resettle.generation > generation);
    assert.ok(
      resettle.firstAppliedAtMs > fencedAtMs,
      `the others settled ${fencedAtMs - resettle.firstAppliedAtMs} ms before the cut-off member let go`,
    );
    // Back in reach: its old session is gone, so it re-joins and the group settles with it again.
    link.cutOff = false;
    await untilSettled(world, world.members, REJOIN_MS + SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS);
  });
});

/**
 * The stale-leader case: the member keeps talking to the old leader, which still believes it
 * leads (until check-quorum deposes it) and answers from its own, no longer current, state.
 */
test('a member partitioned with the old leader loses its index before the majority side can hand it out', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    await startGroup(world);
    await untilSettled(world, world.members, SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS + 500);
    const generation = highestGeneration(world);
    await cluster.sim.runFor(random.int(2_000));
    const old = cluster.leader()!.id;
    const victim = random.int(MEMBERS);
    const link = world.links[victim]!;
    link.reachable = new Set([old]);
    cluster.sim.network.partition(
      [old],
      cluster.sim.ids.filter((id) => id !== old),
    );
    const cutAtMs = cluster.clock.now();
    const survivors = world.members.filter((_, i) => i !== victim);
    await untilSettled(
      world,
      survivors,
      evictedBy(cutAtMs, cutAtMs + SIM_MAX_ELECTION_MS) - cluster.clock.now(),
    );
    const fencedAtMs = link.lastAnsweredSentAtMs + HEARTBEAT_MS;
    assert.equal(world.members[victim]!.indexTotal(), null);
    const resettle = cluster.settles.get(highestGeneration(world))!;
    assert.ok(resettle.generation > generation);
    assert.ok(
      resettle.firstAppliedAtMs > fencedAtMs,
      `the majority settled ${fencedAtMs - resettle.firstAppliedAtMs} ms before the member let go`,
    );
    cluster.sim.network.heal();
    link.reachable = null;
    await untilSettled(
      world,
      world.members,
      SIM_MAX_ELECTION_MS + REJOIN_MS + SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS,
    );
  });
});
