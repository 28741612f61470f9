import type { ClusterConfig, Entry, HardState } from '../raft/types.ts';

/** Identity and position of a state-machine snapshot. */
export interface SnapshotMeta {
  /** Last log index the snapshot covers. */
  readonly index: number;
  /** Term of that entry. */
  readonly term: number;
  /** Configuration in force at `index`. */
  readonly config: ClusterConfig;
  /** Cluster the snapshot belongs to. */
  readonly clusterId: string;
  /** Total size of the snapshot's data in bytes. */
  readonly sizeBytes: number;
}

/** What a node recovers at start: hard state, log entries after the snapshot, and the snapshot's metadata. */
export interface RecoveredState {
  readonly hardState: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: SnapshotMeta;
}

/** One batch of durable writes produced by a Raft `Ready`. */
export interface PersistBatch {
  /** Discard all state first (node reset). */
  readonly reset: boolean;
  readonly hardState: HardState | null;
  /** Delete entries with index ≥ this before appending. */
  readonly truncateFrom: number | null;
  readonly entries: readonly Entry[];
  /**
   * False when the batch changes only the commit index, which Raft treats as volatile: storage
   * may write it without an fsync (a later synced write covers it). Absent means true.
   */
  readonly mustSync?: boolean;
}

/** A snapshot being read: its metadata and its data as a stream of chunks. */
export interface SnapshotReader {
  readonly meta: SnapshotMeta;
  /** The data, in order, in chunks of at most `chunkBytes`. */
  chunks(chunkBytes: number): AsyncIterable<Uint8Array>;
}

/**
 * Durable storage for a Raft node. `persist` must not return (or resolve) before the batch is
 * durable: the node acknowledges entries and votes only after it completes. Implementations may
 * complete synchronously (in-memory, simulated disk) or asynchronously (files with fsync).
 *
 * Snapshots are written by streaming chunks (so a state larger than memory works), made durable
 * and atomic (temporary file, fsync, rename, directory fsync), and only then may the log behind
 * them be compacted.
 */
export interface RaftStorage {
  load(): RecoveredState | Promise<RecoveredState>;
  persist(batch: PersistBatch): void | Promise<void>;
  /**
   * Durably replace the current snapshot with one made of `chunks`. Entries up to `meta.index`
   * may then be dropped by `compact`. On failure the previous snapshot stays in force.
   */
  saveSnapshot(meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void>;
  /** The current snapshot, or null when there is none. */
  openSnapshot(): Promise<SnapshotReader | null>;
  /** Drop log entries with index ≤ `index` (they are covered by a durable snapshot). */
  compact(index: number): void | Promise<void>;
  close(): void | Promise<void>;
}
