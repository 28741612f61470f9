/**
 * `npm run bench:snapshot -- [--mb 1024] [--chunk-kb 1024] [--window 4] [--memory]`
 *
 * How fast a new member catches up from a snapshot: a one-member cluster whose state machine
 * streams `--mb` MiB of state takes a snapshot (FileStorage, fsync on) and compacts its log; a
 * second member is then attached over the TCP transport on loopback and has to install that
 * snapshot (InstallSnapshot in chunks, written durably, restored). Prints MB/s from the start of
 * the transfer to the installed snapshot. Both members run in this one process (2 cores).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RaftNode, type SnapshotStateMachine } from '../src/raft/index.ts';
import { FileStorage, MemoryStorage } from '../src/storage/index.ts';
import { createTcpTransport } from '../src/transport/index.ts';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '1024' },
    'chunk-kb': { type: 'string', default: '1024' },
    window: { type: 'string', default: '4' },
    memory: { type: 'boolean', default: false },
  },
});
const stateBytes = Number(values.mb) * 1024 * 1024;
const chunkBytes = Number(values['chunk-kb']) * 1024;
const window = Number(values.window);
const secret = 'bench-snapshot-secret-0123456789abcdef';
const root = mkdtempSync(join(tmpdir(), 'skein-bench-snapshot-'));

/** A state machine whose state is `stateBytes` of synthetic data, streamed in chunks. */
function syntheticState(): SnapshotStateMachine & { restoredBytes: number } {
  const block = Buffer.alloc(chunkBytes, 0x5a);
  const machine = {
    restoredBytes: 0,
    snapshot(): AsyncIterable<Uint8Array> {
      return (async function* () {
        for (let sent = 0; sent < stateBytes; sent += chunkBytes) {
          yield await Promise.resolve(block.subarray(0, Math.min(chunkBytes, stateBytes - sent)));
        }
      })();
    },
    async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
      let n = 0;
      for await (const c of chunks) n += c.byteLength;
      machine.restoredBytes = n;
    },
  };
  return machine;
}

async function member(id: string, peers?: Record<string, string>) {
  const transport = await createTcpTransport({
    id,
    listen: { host: '127.0.0.1', port: 0 },
    clusterSecret: secret,
    maxFrameBytes: chunkBytes + 64 * 1024,
  });
  const storage = values.memory ? new MemoryStorage() : new FileStorage(join(root, id), { nodeId: id });
  const stateMachine = syntheticState();
  const node = await RaftNode.create({
    id,
    address: transport.address,
    ...(peers === undefined ? {} : { peers: { ...peers, [id]: transport.address } }),
    processors: { noop: () => null },
    stateMachine,
    transport,
    storage,
    // One snapshot, triggered by the first command (the noop below) and compacting the whole log,
    // so that the new member must install it. Configuration entries carry no command bytes, so
    // the membership changes of the attach take no further snapshot: with a snapshot per entry,
    // each change would write the whole state again and compact the log past the snapshot being
    // sent, and the new member would have to install a second one (twice the data measured).
    snapshotEveryEntries: Number.MAX_SAFE_INTEGER,
    snapshotEveryBytes: 1,
    keepEntriesAfterSnapshot: 0,
    snapshotChunkBytes: chunkBytes,
    maxSnapshotChunksInFlight: window,
    snapshotResponseTimeoutMs: 30_000,
    requestTimeoutMs: 600_000,
    tickIntervalMs: 50,
  });
  return { node, stateMachine, address: transport.address };
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

try {
  const a = await member('a', {});
  await until(() => a.node.status().role === 'leader', 10_000);
  await a.node.enqueue('noop', null);
  const snapStart = performance.now();
  await until(() => a.node.status().snapshotIndex > 0, 600_000);
  const snapMs = performance.now() - snapStart;
  const b = await member('b');
  const started = performance.now();
  await a.node.attachNodes({ b: b.address });
  await until(() => b.stateMachine.restoredBytes === stateBytes, 600_000);
  const ms = performance.now() - started;
  const mb = stateBytes / (1024 * 1024);
  console.log(
    `snapshot of ${mb} MiB (${values.memory ? 'memory' : 'FileStorage, fsync on'}; chunks ${values['chunk-kb']} KiB, window ${window}):\n` +
      `  taken and made durable on the leader in ${(snapMs / 1000).toFixed(2)} s\n` +
      `  installed on a new member over TCP loopback in ${(ms / 1000).toFixed(2)} s → ${(mb / (ms / 1000)).toFixed(0)} MiB/s ` +
      `(attach: learner + snapshot transfer + durable write + restore + promotion)`,
  );
  await a.node.stop();
  await b.node.stop();
} finally {
  rmSync(root, { recursive: true, force: true });
}
