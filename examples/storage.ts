/**
 * A Raft node that keeps its log on disk (`FileStorage`), is stopped, and is created again from
 * the same directory: the state machine is rebuilt by re-applying the committed log, and the node
 * carries on taking commands.
 *
 *   node --conditions=skein-source --import tsx examples/storage.ts
 *
 * A single-member cluster (`peers` lists only itself) elects itself and commits on its own write,
 * so this runs in one process with no other node. Exits 0 when every step behaved as described,
 * non-zero otherwise; the temporary data directory is removed either way.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode, type Processor } from 'skein/raft';
import { FileStorage } from 'skein/storage';
import { createTcpTransport } from 'skein/transport';

// Give up (and fail) rather than hang if something goes wrong.
setTimeout(() => {
  console.error('storage: did not finish within 10 s');
  process.exit(1);
}, 10_000).unref();

/** The state machine: an append-only list of notes. It lives only in memory; the log is durable. */
function notes(): { list: string[]; processors: Record<string, Processor> } {
  const list: string[] = [];
  const processors: Record<string, Processor> = {
    add(params) {
      list.push(params as string);
      return list.length;
    },
  };
  return { list, processors };
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const clusterSecret = randomBytes(32);

/** Start node n1 on a fresh port with its data in `dir`; returns the node and its state machine. */
async function start(dir: string): Promise<{ node: RaftNode; state: ReturnType<typeof notes> }> {
  const transport = await createTcpTransport({
    id: 'n1',
    listen: { host: '127.0.0.1', port: 0 },
    clusterSecret,
  });
  const state = notes();
  const node = await RaftNode.create({
    id: 'n1',
    address: transport.address,
    // Used only on the first start, to bootstrap; after a restart the configuration comes from disk.
    peers: { n1: transport.address },
    processors: state.processors,
    transport,
    // The storage loads the directory (WAL segments, snapshot, identity) when the node is created.
    storage: new FileStorage(dir, { nodeId: 'n1' }),
    tickIntervalMs: 20,
    requestTimeoutMs: 2_000,
  });
  await waitFor('n1 to elect itself', () => node.status().role === 'leader');
  return { node, state };
}

const dir = mkdtempSync(join(tmpdir(), 'skein-storage-example-'));
try {
  // --- 1. First life: a few commands, each durable (fdatasync) before enqueue() resolves ---------
  const first = await start(dir);
  for (const text of ['buy milk', 'write docs', 'ship it']) await first.node.enqueue('add', text);
  assert.deepEqual(first.state.list, ['buy milk', 'write docs', 'ship it']);
  const { term, commitIndex } = first.node.status();
  console.log(
    `first life: term ${term}, commit index ${commitIndex}, notes ${JSON.stringify(first.state.list)}`,
  );
  await first.node.stop(); // also closes the transport and the storage
  console.log(`stopped; data directory holds: ${readdirSync(dir).sort().join(', ')}`);

  // --- 2. Second life: same directory, a brand-new (empty) state machine ---------------------------
  const second = await start(dir);
  // The node re-applies the committed log once it knows the entries are committed (its first
  // commit in the new term covers them), so wait for the applied index to catch up.
  await waitFor('the log to be re-applied', () => second.node.status().appliedIndex >= commitIndex);
  assert.deepEqual(second.state.list, ['buy milk', 'write docs', 'ship it']);
  assert.ok(second.node.status().term > term, 'a restarted node starts a new term');
  console.log(`second life: term ${second.node.status().term}, rebuilt ${JSON.stringify(second.state.list)}`);

  // --- 3. New commands carry on after the recovered ones --------------------------------------------
  assert.equal(await second.node.enqueue('add', 'celebrate'), 4);
  assert.deepEqual(second.state.list, ['buy milk', 'write docs', 'ship it', 'celebrate']);
  await second.node.stop();
  console.log('storage: ok');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
