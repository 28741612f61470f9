/**
 * A three-node Raft cluster in one process, over real TCP on 127.0.0.1 — then a fourth node is
 * attached, leadership is handed over, and the fourth node is detached again.
 *
 *   node --conditions=skein-source --import tsx examples/raft-basic.ts
 *
 * In production each node is its own process on its own machine; nothing below changes except
 * where the addresses come from. Exits 0 when every step behaved as described, non-zero otherwise.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hasCode } from 'skein/core';
import { RaftErrorCode, RaftNode, type Processor } from 'skein/raft';
import { createTcpTransport, type TcpTransport } from 'skein/transport';

// Give up (and fail) rather than hang if something goes wrong.
setTimeout(() => {
  console.error('raft-basic: did not finish within 10 s');
  process.exit(1);
}, 10_000).unref();

/**
 * The state machine: a map of counters. Processors must be deterministic and synchronous — every
 * node runs them on the same entries in the same order and must reach the same state.
 */
function counters(): { data: Map<string, number>; processors: Record<string, Processor> } {
  const data = new Map<string, number>();
  const processors: Record<string, Processor> = {
    set(params) {
      const { key, value } = params as { key: string; value: number };
      data.set(key, value);
      return value;
    },
    add(params) {
      const { key, amount } = params as { key: string; amount: number };
      const value = (data.get(key) ?? 0) + amount;
      // Throwing rejects the caller's enqueue() with SKEIN_PROCESSOR_FAILED. Every node sees the
      // same entry and throws the same way, so the replicas stay identical.
      if (value < 0) throw new RangeError(`${key} would become ${value}`);
      data.set(key, value);
      return value;
    },
  };
  return { data, processors };
}

const clusterSecret = randomBytes(32);
// Quicker than the defaults for a demo: 20 ms ticks, so elections start after 200–400 ms (default
// 100 ms ticks: 1–2 s), and requests give up with SKEIN_TIMEOUT after 2 s (default 5 s).
const timing = { tickIntervalMs: 20, requestTimeoutMs: 2_000 };

async function listen(id: string): Promise<TcpTransport> {
  return createTcpTransport({ id, listen: { host: '127.0.0.1', port: 0 }, clusterSecret });
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// --- 1. Three transports on free ports, then three nodes that bootstrap a cluster together ---------
const ids = ['a', 'b', 'c'];
const transports = new Map<string, TcpTransport>();
for (const id of ids) transports.set(id, await listen(id));
const peers = Object.fromEntries(ids.map((id) => [id, transports.get(id)!.address]));

const stores = new Map<string, ReturnType<typeof counters>>();
const nodes = new Map<string, RaftNode>();
for (const id of ids) {
  const store = counters();
  stores.set(id, store);
  const node = await RaftNode.create({
    id,
    address: peers[id]!,
    peers, // the same initial voters on every node: they bootstrap one cluster
    processors: store.processors,
    transport: transports.get(id)!,
    ...timing,
  });
  node.on('role', (role, term) => {
    console.log(`  [${id}] is now ${role} in term ${term}`);
  });
  nodes.set(id, node);
}
const all = (): RaftNode[] => [...nodes.values()];
const leaderOf = (): RaftNode | undefined => all().find((n) => n.status().role === 'leader');

await waitFor('a leader known to everyone', () => {
  const leader = leaderOf();
  return leader !== undefined && all().every((n) => n.status().leaderId === leader.id);
});
const leader = leaderOf()!;
const follower = all().find((n) => n !== leader)!;
console.log(`leader: ${leader.id}`);

// --- 2. Commands: enqueue resolves with the processor's result once applied on that node ----------
assert.equal(await leader.enqueue('set', { key: 'x', value: 1 }), 1);
// A follower forwards to the leader and resolves once the entry is applied locally.
assert.equal(await follower.enqueue('add', { key: 'x', amount: 2 }), 3);

// A linearizable read: sees every command committed before read() was called, even on a follower.
assert.equal(await follower.read(() => stores.get(follower.id)!.data.get('x')), 3);

// --- 3. A processor that throws: the caller gets SKEIN_PROCESSOR_FAILED, the node keeps going ------
let applyErrors = 0;
for (const n of all()) n.on('apply-error', () => applyErrors++);
await assert.rejects(leader.enqueue('add', { key: 'x', amount: -10 }), (error: unknown) =>
  hasCode(error, RaftErrorCode.ProcessorFailed),
);
await waitFor('every node to see the same failure', () => applyErrors === 3);
assert.equal(await leader.enqueue('add', { key: 'x', amount: 1 }), 4);

// --- 4. Membership: attach a fresh node (learner first, promoted once caught up) -----------------
const dTransport = await listen('d');
const dStore = counters();
stores.set('d', dStore);
// No `peers`: d starts detached and joins the cluster whose leader first replicates to it.
const d = await RaftNode.create({
  id: 'd',
  address: dTransport.address,
  processors: dStore.processors,
  transport: dTransport,
  ...timing,
});
nodes.set('d', d);
await follower.attachNodes({ d: d.address }); // any member may ask; it runs on the leader
assert.deepEqual(Object.keys(leader.status().config.voters).sort(), ['a', 'b', 'c', 'd']);
assert.equal(await d.read(() => dStore.data.get('x')), 4); // d replayed the whole log
console.log(`attached d; voters: ${Object.keys(d.status().config.voters).join(', ')}`);

// --- 5. Hand leadership to another voter ---------------------------------------------------------
await leader.transferLeadership(follower.id);
await waitFor('everyone to follow the new leader', () =>
  all().every((n) => n.status().leaderId === follower.id),
);
console.log(`leadership moved from ${leader.id} to ${follower.id}`);

// --- 6. Detach d again and stop it ----------------------------------------------------------------
await leader.detachNodes(['d']); // leader is a follower now: the call is forwarded
assert.deepEqual(Object.keys(follower.status().config.voters).sort(), ['a', 'b', 'c']);
await d.stop();
nodes.delete('d');
assert.equal(await leader.enqueue('add', { key: 'x', amount: 10 }), 14);

// Every remaining replica holds the same state.
await waitFor('every replica to apply everything', () => {
  const commit = follower.status().commitIndex;
  return all().every((n) => n.status().appliedIndex === commit);
});
for (const n of all()) assert.equal(stores.get(n.id)!.data.get('x'), 14);

const s = follower.status();
console.log(
  `status of ${s.id}: ${s.role}, term ${s.term}, commit ${s.commitIndex}, applied ${s.appliedIndex}`,
);
await Promise.all(all().map((n) => n.stop())); // stop() also closes the node's transport
console.log('raft-basic: ok');
