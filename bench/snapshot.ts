/**
 * `npm run bench:snapshot -- [--mb 1024] [--chunk-kb 1024] [--window 8] [--memory] [--runs 1] [--same-process] [--stages]`
 *
 * How fast a new member catches up from a snapshot: a one-member cluster whose state machine
 * streams `--mb` MiB of state takes a snapshot (FileStorage, fsync on) and compacts its log; a
 * second member is then attached over the TCP transport on loopback and has to install that
 * snapshot (InstallSnapshot in chunks, written durably, restored). Prints MB/s from the start of
 * the attach to the installed snapshot and the promotion. The new member runs in a child process,
 * as it would in production (leader and new member each on their own core); `--same-process`
 * runs both in this one process, sharing one thread. `--stages` also prints the CPU time of both
 * processes and when the new member's stages happened: its first and last chunk taken by storage,
 * the snapshot durable (fdatasync, rename, directory fsync), the restore started and done.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
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
    window: { type: 'string', default: '8' },
    memory: { type: 'boolean', default: false },
    runs: { type: 'string', default: '1' },
    'same-process': { type: 'boolean', default: false },
    /** Print when the new member's stages happened (first/last chunk stored, durable, restored). */
    stages: { type: 'boolean', default: false },
    /** Internal: run as the new member's child process, storing under this directory. */
    child: { type: 'string' },
  },
});
const stateBytes = Number(values.mb) * 1024 * 1024;
const chunkBytes = Number(values['chunk-kb']) * 1024;
const window = Number(values.window);
const secret = 'bench-snapshot-secret-0123456789abcdef';
const root = values.child ?? mkdtempSync(join(tmpdir(), 'skein-bench-snapshot-'));

/** Wall-clock instants (ms since the epoch, comparable across processes) of the new member's stages. */
const stageTimes: Record<string, number> = {};
/** CPU time (user + system) this process has used, in ms. */
const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const mark = (stage: string): void => {
  if (Object.keys(stageTimes).length === 0) stageTimes.cpuMs = cpuMs();
  stageTimes[stage] ??= performance.timeOrigin + performance.now();
};

/** Record when the chunks of a snapshot being saved start and stop arriving, and when it is durable. */
function traceSaves(storage: FileStorage | MemoryStorage): void {
  const save = storage.saveSnapshot.bind(storage);
  storage.saveSnapshot = (meta, chunks) => {
    const traced = (async function* () {
      for await (const chunk of chunks) {
        mark('first chunk stored');
        yield chunk;
      }
      mark('last chunk stored');
    })();
    return save(meta, traced).then(() => {
      mark('durable');
    });
  };
}

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
      mark('restore started');
      let n = 0;
      for await (const c of chunks) n += c.byteLength;
      mark('restored');
      stageTimes.cpuMs = cpuMs() - (stageTimes.cpuMs ?? 0);
      machine.restoredBytes = n;
    },
  };
  return machine;
}

async function member(id: string, peers?: Record<string, string>, dir = root) {
  const transport = await createTcpTransport({
    id,
    listen: { host: '127.0.0.1', port: 0 },
    clusterSecret: secret,
    maxFrameBytes: chunkBytes + 64 * 1024,
  });
  const storage = values.memory ? new MemoryStorage() : new FileStorage(join(dir, id), { nodeId: id });
  if (values.stages && id === 'b') traceSaves(storage);
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

/** The child process: one new member that reports its address, then that it has restored the state. */
async function childMember(dir: string): Promise<void> {
  const b = await member('b', undefined, dir);
  process.send!({ address: b.address });
  await until(() => b.stateMachine.restoredBytes === stateBytes, 600_000);
  process.send!({ restored: true, stageTimes });
  await once(process, 'disconnect');
  await b.node.stop();
}

/** The new member, here or in a child process: its address and a promise of its restored state. */
async function newMember(): Promise<{
  address: string;
  /** Resolves to the instants of its stages (see `mark`) once the state is restored. */
  restored: Promise<Record<string, number>>;
  stop: () => Promise<void>;
}> {
  if (values['same-process']) {
    const b = await member('b');
    return {
      address: b.address,
      restored: until(() => b.stateMachine.restoredBytes === stateBytes, 600_000).then(() => stageTimes),
      stop: () => b.node.stop(),
    };
  }
  const child = fork(process.argv[1]!, [...process.argv.slice(2), '--child', root], {
    execArgv: process.execArgv,
  });
  const messages = (async function* () {
    for (;;) yield ((await once(child, 'message')) as [Record<string, unknown>])[0];
  })();
  const first = (await messages.next()).value as { address: string };
  return {
    address: first.address,
    restored: messages.next().then((m) => (m.value as { stageTimes: Record<string, number> }).stageTimes),
    stop: async () => {
      child.disconnect();
      await once(child, 'exit');
    },
  };
}

async function run(): Promise<number> {
  const a = await member('a', {});
  await until(() => a.node.status().role === 'leader', 10_000);
  await a.node.enqueue('noop', null);
  const snapStart = performance.now();
  await until(() => a.node.status().snapshotIndex > 0, 600_000);
  const snapMs = performance.now() - snapStart;
  const b = await newMember();
  const started = performance.now();
  const startedCpuMs = cpuMs();
  const [, times] = await Promise.all([a.node.attachNodes({ b: b.address }), b.restored]);
  const ms = performance.now() - started;
  const mb = stateBytes / (1024 * 1024);
  console.log(
    `  taken and made durable on the leader in ${(snapMs / 1000).toFixed(2)} s; ` +
      `installed on the new member in ${(ms / 1000).toFixed(2)} s → ${(mb / (ms / 1000)).toFixed(0)} MiB/s`,
  );
  if (values.stages) {
    const { cpuMs: memberCpuMs = 0, ...stages } = times;
    console.log(
      `    CPU s: ${values['same-process'] ? 'this process (both members)' : 'leader process'} ` +
        `${((cpuMs() - startedCpuMs) / 1000).toFixed(2)}, new member ${(memberCpuMs / 1000).toFixed(2)} ` +
        '(from its first chunk to restored)',
    );
    const at = (stage: string): string => {
      const t = times[stage];
      return t === undefined ? '?' : ((t - performance.timeOrigin - started) / 1000).toFixed(2);
    };
    console.log(
      `    s after the attach: ${Object.keys(stages)
        .map((s) => `${s} ${at(s)}`)
        .join(', ')}`,
    );
  }
  await a.node.stop();
  await b.stop();
  return mb / (ms / 1000);
}

if (values.child !== undefined) {
  await childMember(values.child);
} else {
  try {
    console.log(
      `snapshot of ${values.mb} MiB (${values.memory ? 'memory' : 'FileStorage, fsync on'}; chunks ${values['chunk-kb']} KiB, ` +
        `window ${window}; new member ${values['same-process'] ? 'in this process' : 'in a child process'}), over TCP ` +
        'loopback (attach: learner + snapshot transfer + durable write + restore + promotion):',
    );
    const rates: number[] = [];
    for (let i = 0; i < Number(values.runs); i++) {
      rates.push(await run());
      rmSync(root, { recursive: true, force: true });
    }
    rates.sort((x, y) => x - y);
    console.log(`median of ${rates.length}: ${rates[rates.length >> 1]!.toFixed(0)} MiB/s`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
