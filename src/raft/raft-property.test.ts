import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomRaftSchedule } from '../testing/raft-schedules.ts';
import { seedsFromEnv } from '../testing/seeds.ts';

/**
 * Random fault schedules over many seeds: crashes and restarts, symmetric and one-way
 * partitions, message loss, duplication and reordering, membership changes (add, remove),
 * leadership transfers, and occasionally a disaster recovered with `solo` followed by growing
 * the cluster back, and `reset` of a removed node. The simulator checks Raft's invariants after
 * every event; at the end the network heals and every write acknowledged by the surviving
 * cluster must be in its log.
 */

test('random fault schedules keep every Raft invariant (seeded; replay with SKEIN_SEED)', async () => {
  const seeds = seedsFromEnv(Number(process.env['SKEIN_RAFT_SEEDS'] ?? 2000));
  const failures: string[] = [];
  for (const seed of seeds) {
    try {
      await randomRaftSchedule(seed);
    } catch (error) {
      failures.push(`seed ${seed}: ${error instanceof Error ? error.message : String(error)}`);
      if (failures.length >= 3) break;
    }
  }
  assert.deepEqual(failures, [], `replay one with SKEIN_SEED=<seed> node scripts/test.mjs raft-property`);
});
