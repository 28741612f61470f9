import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftSimulation } from '../testing/raft-sim.ts';

test('a 3-node cluster elects, replicates, forwards from a follower and serves a ReadIndex read', async () => {
  const sim = new RaftSimulation({ seed: 1 });
  sim.bootstrap(['a', 'b', 'c']);
  assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5000));
  const leader = sim.leader()!;

  const r = await sim.settle(leader.enqueue('set', { key: 'x', value: 1 }));
  assert.equal(r, 1);
  const f = sim.liveNodes().find((n) => n !== leader)!;
  const r2 = await sim.settle(f.enqueue('set', { key: 'y', value: 2 }));
  assert.equal(r2, 2);
  const v = await sim.settle(f.read(() => 'read-ok'));
  assert.equal(v, 'read-ok');
  await sim.runFor(1000);
  sim.checkLogMatching();
  for (const n of sim.liveNodes()) {
    assert.equal(n.status().appliedIndex, leader.status().commitIndex);
    assert.deepEqual(
      sim.appliedBy(n.id).map((e) => e.params),
      [
        { key: 'x', value: 1 },
        { key: 'y', value: 2 },
      ],
    );
  }
});
