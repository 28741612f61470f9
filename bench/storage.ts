/**
 * FileStorage on the real disk: what one fdatasync costs here, and persist throughput and latency
 * for batches of 1, 64 and 256 entries (256-byte commands by default), one batch at a time as the
 * Raft driver issues them, each case twice: with the WAL's preallocated segments (the default) and
 * appending past the end of the file (`preallocateBytes: 0`). Then how fast the written log recovers.
 * `--writers=3` runs three storages in three directories at once, as the three members of a
 * local cluster share one disk. `--rounds=N` repeats each pair N times, alternating which of the
 * two goes first (this disk's speed drifts), and prints medians over the rounds.
 *
 *   npm run bench:storage -- [--dir=/path/on/the/disk/to/test] [--seconds=3] [--bytes=256] [--batches=1,64,256]
 *                            [--writers=1] [--rounds=1]
 *
 * The directory defaults to a fresh one under the OS temp dir; point --dir at the disk the data
 * directory will live on, since fdatasync cost is a property of the device and file system.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '../src/core/codec.ts';
import { EntryKind, type Entry } from '../src/raft/types.ts';
import { FileStorage } from '../src/storage/file-storage.ts';
import { median } from './lib/stats.ts';

function arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

const seconds = Number(arg('seconds') ?? 3);
const payloadBytes = Number(arg('bytes') ?? 256);
const batchSizes = (arg('batches') ?? '1,64,256').split(',').map(Number);
const writers = Number(arg('writers') ?? 1);
const rounds = Number(arg('rounds') ?? 1);
for (const [name, n] of [
  ['writers', writers],
  ['rounds', rounds],
] as const) {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} is a positive integer`);
}

/** The median of `xs` by `key`. */
function mid<T>(xs: readonly T[], key: (x: T) => number): number {
  return median(xs.map(key));
}

interface PersistFigures {
  readonly batchesPerSec: number;
  readonly entriesPerSec: number;
  readonly mbPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface Latencies {
  readonly count: number;
  readonly elapsedMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Run `step` back to back for `seconds`, timing each call. */
async function timed(step: () => Promise<void>): Promise<Latencies> {
  const samples: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    await step();
    const after = performance.now();
    samples.push(after - now);
    now = after;
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { count: samples.length, elapsedMs: now - start, p50Ms: at(0.5), p99Ms: at(0.99) };
}

const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

/** Append `bytes` and fdatasync, as a WAL does, without any of the WAL's own work. */
async function rawSync(dir: string, bytes: number): Promise<Latencies> {
  const handle = await open(join(dir, `raw-${bytes}.bin`), 'w');
  const block = Buffer.alloc(bytes, 0x61);
  let position = 0;
  try {
    return await timed(async () => {
      await handle.write(block, 0, block.length, position);
      position += block.length;
      await handle.datasync();
    });
  } finally {
    await handle.close();
  }
}

/** An entry shaped like a RaftNode command: msgpack [requestId, action, params] of about `payloadBytes`. */
function commandEntry(index: number): Entry {
  const data = encode([
    `n1:1:${index}`,
    'set',
    { key: `k${index % 1000}`, value: Buffer.alloc(payloadBytes - 40, 0x61) },
  ]);
  return { index, term: 1, kind: EntryKind.Normal, data };
}

async function persistRun(
  dir: string,
  batch: number,
  preallocateBytes: number | undefined,
): Promise<{ latencies: Latencies; entries: number; bytes: number }> {
  const storage = new FileStorage(dir, {
    nodeId: 'n1',
    ...(preallocateBytes === undefined ? {} : { preallocateBytes }),
  });
  await storage.load();
  let next = 1;
  let bytes = 0;
  const latencies = await timed(async () => {
    const entries = Array.from({ length: batch }, () => commandEntry(next++));
    for (const e of entries) bytes += (e.data as Uint8Array).byteLength;
    await storage.persist({
      reset: false,
      truncateFrom: null,
      entries,
      hardState: { term: 1, vote: 'n1', commit: next - 1, clusterId: 'bench' },
    });
  });
  await storage.close();
  return { latencies, entries: next - 1, bytes };
}

async function main(): Promise<void> {
  const root = arg('dir') ?? (await mkdtemp(join(tmpdir(), 'skein-bench-storage-')));
  console.log(
    `storage bench in ${root}, ${seconds} s per case, ${payloadBytes}-byte commands, node ${process.version}`,
  );
  try {
    console.log('\nraw append + fdatasync (the floor under every persist):');
    for (const bytes of [512, 4096, 65536]) {
      const r = await rawSync(root, bytes);
      console.log(
        `  ${String(bytes).padStart(6)} B: ${(r.count / (r.elapsedMs / 1000)).toFixed(0).padStart(6)} syncs/s  p50 ${fmt(r.p50Ms)}  p99 ${fmt(r.p99Ms)}`,
      );
    }
    console.log(
      `\nFileStorage.persist, one batch at a time (one fdatasync each), ${writers} writer(s) at once` +
        (writers > 1 ? ' (figures per writer, median over the writers):' : ':'),
    );
    const variants = [
      ['preallocated', undefined],
      ['appending', 0],
    ] as const;
    for (const batch of batchSizes) {
      const figures = new Map<string, PersistFigures[]>(variants.map(([label]) => [label, []]));
      for (let round = 0; round < rounds; round++) {
        for (const [label, preallocateBytes] of round % 2 === 0 ? variants : [...variants].reverse()) {
          const runs = await Promise.all(
            Array.from({ length: writers }, (_, w) =>
              persistRun(join(root, `persist-${batch}-${label}-r${round}-w${w}`), batch, preallocateBytes),
            ),
          );
          // Per writer, then the median over the writers.
          figures.get(label)!.push({
            batchesPerSec: mid(runs, (x) => x.latencies.count / (x.latencies.elapsedMs / 1000)),
            entriesPerSec: mid(runs, (x) => x.entries / (x.latencies.elapsedMs / 1000)),
            mbPerSec: mid(runs, (x) => x.bytes / (x.latencies.elapsedMs / 1000) / 1e6),
            p50Ms: mid(runs, (x) => x.latencies.p50Ms),
            p99Ms: mid(runs, (x) => x.latencies.p99Ms),
          });
        }
      }
      for (const [label, byRound] of figures) {
        const perRound =
          rounds > 1 ? `  (p50 by round: ${byRound.map((f) => f.p50Ms.toFixed(3)).join(', ')})` : '';
        console.log(
          `  batch ${String(batch).padStart(3)} ${label.padEnd(12)}: ${mid(byRound, (f) => f.batchesPerSec)
            .toFixed(0)
            .padStart(6)} batches/s  ` +
            `${mid(byRound, (f) => f.entriesPerSec)
              .toFixed(0)
              .padStart(8)} entries/s  ${mid(byRound, (f) => f.mbPerSec)
              .toFixed(1)
              .padStart(6)} MB/s  ` +
            `p50 ${fmt(mid(byRound, (f) => f.p50Ms))}  p99 ${fmt(mid(byRound, (f) => f.p99Ms))}${perRound}`,
        );
      }
      const dir = join(root, `persist-${batch}-preallocated-r0-w0`);
      const start = performance.now();
      const reopened = new FileStorage(dir, { nodeId: 'n1' });
      const recovered = await reopened.load();
      const loadMs = performance.now() - start;
      await reopened.close();
      console.log(
        `             recovery: ${recovered.entries.length} entries in ${loadMs.toFixed(0)} ms ` +
          `(${(recovered.entries.length / (loadMs / 1000)).toFixed(0)} entries/s)`,
      );
    }
  } finally {
    if (arg('dir') === undefined) await rm(root, { recursive: true, force: true });
  }
}

await main();
