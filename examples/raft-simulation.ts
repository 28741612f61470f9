/**
 * Testing your own processors in the Raft simulator: five replicas of a small bank on a virtual
 * clock and a seeded, lossy network, while the test crashes nodes, partitions the leader away and
 * heals. Raft's safety invariants are checked after every simulated event; at the end we check the
 * bank's own invariants (money is conserved, every replica holds the same balances).
 *
 *   node --conditions=skein-source --import tsx examples/raft-simulation.ts
 *   SKEIN_SEED=2 node --conditions=skein-source --import tsx examples/raft-simulation.ts   # replay one seed
 *
 * Every run is a pure function of its seed: a failure prints the seed that reproduces it.
 */
import assert from 'node:assert/strict';
import { hasCode } from 'skein/core';
import { RaftErrorCode, type Processor } from 'skein/raft';
import { RaftSimulation, Random, seedsFromEnv } from 'skein/testing';

setTimeout(() => {
  console.error('raft-simulation: did not finish within 10 s');
  process.exit(1);
}, 10_000).unref();

type Balances = Map<string, number>;
const accounts = ['alice', 'bob', 'carol'];
const initialBalance = 100;

/** The state machine under test: deterministic, synchronous, and it refuses overdrafts by throwing. */
function bank(balances: Balances): Record<string, Processor> {
  for (const account of accounts) balances.set(account, initialBalance);
  return {
    transfer(params) {
      const { from, to, amount } = params as { from: string; to: string; amount: number };
      const available = balances.get(from) ?? 0;
      if (amount > available) throw new RangeError(`${from} has ${available}, cannot send ${amount}`);
      balances.set(from, available - amount);
      balances.set(to, (balances.get(to) ?? 0) + amount);
      return balances.get(from);
    },
  };
}

interface Outcome {
  ok: number;
  refused: number; // the processor threw: definitely not applied
  unknown: number; // timed out or the node went away: may or may not have been applied
  notSent: number; // no leader / not a member: definitely not applied
  appliedAfterTimeout: number; // of the `unknown` ones, how many the cluster applied after all
}

async function scenario(seed: number): Promise<Outcome> {
  // Each node's state machine; replaced when the node restarts (it rebuilds state from the log).
  const state = new Map<string, Balances>();
  const sim = new RaftSimulation({
    seed,
    faults: { minDelayMs: 1, maxDelayMs: 8, lossRate: 0.01 }, // varied delays also reorder messages
    nodeOptions: { requestTimeoutMs: 1_000 },
    processors: (id) => {
      const balances: Balances = new Map();
      state.set(id, balances);
      return bank(balances);
    },
  });
  const rng = new Random(seed); // the test's own choices, also reproducible
  const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
  sim.bootstrap(ids);
  const everyoneKnowsTheLeader = (): boolean => {
    const leader = sim.leader();
    return leader !== undefined && sim.liveNodes().every((n) => n.status().leaderId === leader.id);
  };
  assert.ok(await sim.runUntil(everyoneKnowsTheLeader, 5_000), 'no leader elected');

  const outcome: Outcome = { ok: 0, refused: 0, unknown: 0, notSent: 0, appliedAfterTimeout: 0 };
  const submitSome = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const nodes = sim.liveNodes();
      const node = rng.pick(nodes);
      const [from, to] = rng.shuffle([...accounts]);
      node.enqueue('transfer', { from, to, amount: 1 + rng.int(60) }).then(
        () => outcome.ok++,
        (error: unknown) => {
          if (hasCode(error, RaftErrorCode.ProcessorFailed)) outcome.refused++;
          else if (hasCode(error, RaftErrorCode.Timeout) || hasCode(error, RaftErrorCode.Stopped))
            outcome.unknown++;
          else outcome.notSent++;
        },
      );
    }
  };

  for (let round = 0; round < 6; round++) {
    submitSome(10);
    await sim.runFor(rng.int(30)); // strike while some commands are still in flight
    const fault = rng.int(3);
    if (fault === 0) {
      // Cut the leader off from everyone else; the majority elects a new leader meanwhile.
      const leader = sim.leader();
      if (leader !== undefined)
        sim.network.partition(
          [leader.id],
          ids.filter((id) => id !== leader.id),
        );
    } else if (fault === 1) {
      // Crash a node: it loses everything not in storage, and restarts later from its storage.
      const victim = rng.pick(sim.liveNodes()).id;
      sim.crash(victim);
      await sim.runFor(300);
      sim.restart(victim);
    }
    await sim.runFor(500);
    sim.network.heal();
  }

  // Let everything settle: all five nodes up, connected, and caught up with the leader.
  sim.network.heal();
  await sim.runFor(2_000);
  const converged = await sim.runUntil(() => {
    const leader = sim.leader();
    if (leader === undefined) return false;
    const commit = leader.status().commitIndex;
    return sim.liveNodes().every((n) => n.status().appliedIndex === commit);
  }, 10_000);
  assert.ok(converged, 'replicas did not converge after healing');
  sim.checkLogMatching();

  // The bank's invariants, checked on every replica.
  const reference = [...state.get(sim.leader()!.id)!];
  for (const id of ids) {
    const balances = state.get(id)!;
    const total = [...balances.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, accounts.length * initialBalance, `${id}: money was created or destroyed`);
    assert.deepEqual([...balances], reference, `${id} differs from the leader`);
  }

  // Every client saw a definite answer or a timeout by now. A timed-out command may or may not
  // have been applied; everything acknowledged (or refused by the processor) certainly was.
  const applied = sim.appliedBy(sim.leader()!.id).length;
  assert.ok(applied >= outcome.ok + outcome.refused, 'an acknowledged transfer is missing');
  assert.ok(applied <= outcome.ok + outcome.refused + outcome.unknown, 'a refused command was applied');
  outcome.appliedAfterTimeout = applied - outcome.ok - outcome.refused;
  return outcome;
}

for (const seed of seedsFromEnv(3)) {
  try {
    const o = await scenario(seed);
    console.log(
      `seed ${seed}: ${o.ok} transfers applied, ${o.refused} refused by the processor, ` +
        `${o.unknown} timed out (${o.appliedAfterTimeout} of them applied after all), ` +
        `${o.notSent} not accepted (no leader)`,
    );
  } catch (error) {
    console.error(`raft-simulation failed with seed ${seed}; replay it with SKEIN_SEED=${seed}`);
    throw error;
  }
}
console.log('raft-simulation: ok');
