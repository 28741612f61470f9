import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../core/random.ts';
import { runSeeds, seedsFromEnv } from '../testing/seeds.ts';
import { SimCluster } from './sim-cluster.ts';
import { VivaldiClient, distanceS, originCoordinate, DefaultVivaldiConfig } from './vivaldi.ts';

const report = process.env['SKEIN_GOSSIP_REPORT'] === '1';

/** A latency matrix that Vivaldi's model can express: points in a 100 ms square plus per-node heights. */
function syntheticMatrix(random: Random, n: number): (i: number, j: number) => number {
  const points = Array.from({ length: n }, () => [random.next() * 100, random.next() * 100] as const);
  const heights = Array.from({ length: n }, () => 1 + random.next() * 9);
  return (i, j) =>
    Math.hypot(points[i]![0] - points[j]![0], points[i]![1] - points[j]![1]) + heights[i]! + heights[j]!;
}

interface Accuracy {
  errors: number[];
  nearestRight: number;
  cases: number;
}

/** Relative error of every estimate, and whether each node's estimated nearest is its true nearest. */
function score(
  n: number,
  rttMs: (i: number, j: number) => number,
  estimateMs: (i: number, j: number) => number,
  nearest: (i: number) => number,
  into: Accuracy,
): void {
  for (let i = 0; i < n; i++) {
    let best = -1;
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const truth = rttMs(i, j);
      into.errors.push(Math.abs(estimateMs(i, j) - truth) / truth);
      if (best < 0 || truth < rttMs(i, best)) best = j;
    }
    into.cases++;
    if (nearest(i) === best) into.nearestRight++;
  }
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
}

test('Vivaldi on a synthetic matrix: median relative error <= 15%, nearest member right >= 90%', () => {
  const n = 50;
  const accuracy: Accuracy = { errors: [], nearestRight: 0, cases: 0 };
  runSeeds('vivaldi synthetic', seedsFromEnv(4), (seed) => {
    const random = new Random(seed);
    const rtt = syntheticMatrix(random, n);
    const clients = Array.from({ length: n }, () => new VivaldiClient(random.fork()));
    // Serf's simulation loop: each cycle every node measures one random other node.
    for (let cycle = 0; cycle < 4000; cycle++) {
      for (let i = 0; i < n; i++) {
        let j = random.int(n - 1);
        if (j >= i) j++;
        clients[i]!.update(String(j), clients[j]!.coordinate, rtt(i, j));
      }
    }
    const estimate = (i: number, j: number): number =>
      distanceS(clients[i]!.coordinate, clients[j]!.coordinate) * 1000;
    const nearest = (i: number): number => {
      let best = -1;
      for (let j = 0; j < n; j++) if (j !== i && (best < 0 || estimate(i, j) < estimate(i, best))) best = j;
      return best;
    };
    score(n, rtt, estimate, nearest, accuracy);
  });
  const ratio = accuracy.nearestRight / accuracy.cases;
  if (report) console.log(`vivaldi synthetic: median error ${median(accuracy.errors)}, nearest ${ratio}`);
  assert.ok(median(accuracy.errors) <= 0.15, `median relative error ${median(accuracy.errors)}`);
  assert.ok(ratio >= 0.9, `nearest right in ${ratio} of cases`);
});

test('Vivaldi in the gossip simulator: coordinates from probe RTTs estimate the matrix', () => {
  const n = 20;
  const accuracy: Accuracy = { errors: [], nearestRight: 0, cases: 0 };
  runSeeds('vivaldi gossip', seedsFromEnv(4), (seed) => {
    const cluster = new SimCluster({ seed });
    const rtt = syntheticMatrix(new Random(seed + 1000), n);
    const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        // Fixed one-way delay of half the RTT, so a probe's round trip measures the matrix exactly.
        if (i !== j)
          cluster.network.setLinkFaults(ids[i]!, ids[j]!, {
            minDelayMs: rtt(i, j) / 2,
            maxDelayMs: rtt(i, j) / 2,
          });
      }
    }
    cluster.start(ids, 120_000);
    cluster.advance(1_500_000); // 1,500 protocol periods: ~75 probes of each peer per node
    const index = new Map(ids.map((id, i) => [id, i]));
    score(
      n,
      rtt,
      (i, j) => cluster.node(ids[i]!).estimateRttMs(ids[i]!, ids[j]!) ?? Number.NaN,
      (i) => index.get(cluster.node(ids[i]!).nearest(ids[i]!, 1)[0]?.id ?? '') ?? -1,
      accuracy,
    );
    cluster.close();
  });
  const ratio = accuracy.nearestRight / accuracy.cases;
  if (report) console.log(`vivaldi in gossip: median error ${median(accuracy.errors)}, nearest ${ratio}`);
  assert.ok(median(accuracy.errors) <= 0.15, `median relative error ${median(accuracy.errors)}`);
  assert.ok(ratio >= 0.9, `nearest right in ${ratio} of cases`);
});

test('Vivaldi basics: symmetric distance, coincident nodes separate, the latency filter drops an outlier', () => {
  const a = new VivaldiClient(new Random(1));
  const b = new VivaldiClient(new Random(2));
  assert.equal(distanceS(a.coordinate, b.coordinate), distanceS(b.coordinate, a.coordinate));
  for (let i = 0; i < 200; i++) {
    a.update('b', b.coordinate, 40);
    b.update('a', a.coordinate, 40);
  }
  const estimate = distanceS(a.coordinate, b.coordinate) * 1000;
  assert.ok(Math.abs(estimate - 40) < 2, `estimate ${estimate}`);
  // One 4-second spike between good samples: the median of the last three ignores it.
  a.update('b', b.coordinate, 4000);
  assert.ok(Math.abs(distanceS(a.coordinate, b.coordinate) * 1000 - 40) < 4);
  // Garbage in is ignored rather than poisoning the coordinate.
  a.update('b', { ...b.coordinate, vec: [1, 2] }, 40);
  a.update('b', b.coordinate, Number.NaN);
  assert.ok(a.coordinate.vec.every(Number.isFinite));
  assert.equal(originCoordinate(DefaultVivaldiConfig).vec.length, 8);
});
