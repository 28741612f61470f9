import fc from 'fast-check';
import { encode } from '../core/codec.ts';
import { Random } from '../core/random.ts';
import { EntryKind, type Entry, type HardState } from '../raft/types.ts';
import type { MemoryStorage } from './memory-storage.ts';
import type { PersistBatch, SnapshotMeta } from './types.ts';

/**
 * Abstract storage operations for model-based tests. Each is turned into a concrete batch or
 * snapshot by {@link concretize} from the model's current state, so that any sequence is one a
 * Raft node could produce (contiguous entries, truncations above the snapshot, snapshots at or
 * beyond the log's end followed by compaction), and shrinking keeps sequences valid.
 */
export type WorkloadOp =
  | {
      readonly t: 'append';
      readonly n: number;
      readonly back: number;
      readonly bump: boolean;
      readonly hard: boolean;
      readonly seed: number;
    }
  | { readonly t: 'hard'; readonly seed: number }
  | { readonly t: 'reset'; readonly n: number; readonly seed: number }
  | {
      readonly t: 'snapshot';
      readonly frac: number;
      readonly beyond: number;
      readonly bytes: number;
      readonly compact: boolean;
      readonly seed: number;
    }
  | { readonly t: 'restart' };

export const workloadOp: fc.Arbitrary<WorkloadOp> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('append' as const),
      n: fc.nat(6),
      back: fc.nat(4),
      bump: fc.boolean(),
      hard: fc.boolean(),
      seed: fc.nat(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('hard' as const), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reset' as const), n: fc.nat(3), seed: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('snapshot' as const),
      frac: fc.double({ min: 0, max: 1, noNaN: true }),
      beyond: fc.oneof(fc.constant(0), fc.nat(5)),
      bytes: fc.nat(3000),
      compact: fc.boolean(),
      seed: fc.nat(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'restart' as const }) },
);

/** A concrete step: a batch to persist, a snapshot to save (then maybe compact), or a restart. */
export type WorkloadStep =
  | { readonly kind: 'persist'; readonly batch: PersistBatch }
  | {
      readonly kind: 'snapshot';
      readonly meta: SnapshotMeta;
      readonly data: Uint8Array;
      readonly compact: boolean;
    }
  | { readonly kind: 'restart' };

function entryData(random: Random): unknown {
  const roll = random.int(4);
  if (roll === 0) return null;
  if (roll === 1) return { type: 'replace', voters: { a: '127.0.0.1:1' }, learners: {}, clusterId: 'c1' };
  const bytes = new Uint8Array(random.int(300));
  for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(256);
  return roll === 2 ? bytes : encode(['req', 'set', { k: random.int(100) }]);
}

function entries(from: number, n: number, term: number, random: Random): Entry[] {
  return Array.from({ length: n }, (_, i) => {
    const data = entryData(random);
    const kind =
      data === null ? EntryKind.Noop : data instanceof Uint8Array ? EntryKind.Normal : EntryKind.Config;
    return { index: from + i, term, kind, data };
  });
}

function hardState(model: MemoryStorage, term: number, random: Random): HardState {
  const last = model.entries.at(-1)?.index ?? model.snapshot?.meta.index ?? 0;
  return { term, vote: random.chance(0.5) ? null : 'n1', commit: random.int(last + 1), clusterId: 'c1' };
}

/** Turn `op` into a step given the model's state. The model is not changed. */
export function concretize(op: WorkloadOp, model: MemoryStorage): WorkloadStep | null {
  const snapIndex = model.snapshot?.meta.index ?? 0;
  const last = model.entries.at(-1)?.index ?? snapIndex;
  const term = Math.max(
    model.hardState.term,
    model.entries.at(-1)?.term ?? 0,
    model.snapshot?.meta.term ?? 0,
    1,
  );
  if (op.t === 'restart') return { kind: 'restart' };
  const random = new Random(op.seed);
  switch (op.t) {
    case 'append': {
      const from = Math.max(snapIndex + 1, last + 1 - op.back);
      const t = op.bump ? term + 1 : term;
      return {
        kind: 'persist',
        batch: {
          reset: false,
          truncateFrom: from <= last && random.chance(0.5) ? from : null,
          entries: entries(from, op.n, t, random),
          hardState: op.hard || op.bump ? hardState(model, t, random) : null,
        },
      };
    }
    case 'hard':
      return {
        kind: 'persist',
        batch: { reset: false, truncateFrom: null, entries: [], hardState: hardState(model, term, random) },
      };
    case 'reset':
      return {
        kind: 'persist',
        batch: {
          reset: true,
          truncateFrom: null,
          entries: entries(1, op.n, 1, random),
          hardState: op.n > 0 ? { term: 1, vote: null, commit: 0, clusterId: '' } : null,
        },
      };
    case 'snapshot': {
      const index = op.beyond > 0 ? last + op.beyond : snapIndex + Math.floor(op.frac * (last - snapIndex));
      if (index <= snapIndex) return null;
      const entryTerm = model.entries.find((e) => e.index === index)?.term ?? term;
      const data = new Uint8Array(op.bytes);
      for (let i = 0; i < data.length; i++) data[i] = random.int(256);
      const meta: SnapshotMeta = {
        index,
        term: entryTerm,
        config: { voters: { n1: '127.0.0.1:1' }, outgoing: {}, learners: {}, removed: [] },
        clusterId: 'c1',
        sizeBytes: data.byteLength,
      };
      // Installing a snapshot beyond the log must drop the log behind it (as the driver does).
      return { kind: 'snapshot', meta, data, compact: op.compact || op.beyond > 0 };
    }
  }
}

/** Feed `data` as a stream of small chunks. */
export async function* chunked(data: Uint8Array, chunkBytes = 700): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.byteLength; at += chunkBytes)
    yield await Promise.resolve(data.subarray(at, at + chunkBytes));
}

/** Apply a step to the model (MemoryStorage), the reference the file storage must agree with. */
export async function applyToModel(model: MemoryStorage, step: WorkloadStep): Promise<void> {
  if (step.kind === 'persist') model.persist(step.batch);
  else if (step.kind === 'snapshot') {
    await model.saveSnapshot(step.meta, chunked(step.data));
    if (step.compact) model.compact(step.meta.index);
  }
}
