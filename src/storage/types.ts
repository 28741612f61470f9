import type { ClusterConfig, Entry, HardState } from '../raft/types.ts';

/** What a node recovers at start: hard state, log entries after the snapshot, and the snapshot's metadata. */
export interface RecoveredState {
  readonly hardState: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: { readonly index: number; readonly term: number; readonly config: ClusterConfig };
}

/** One batch of durable writes produced by a Raft `Ready`. */
export interface PersistBatch {
  /** Discard all state first (node reset). */
  readonly reset: boolean;
  readonly hardState: HardState | null;
  /** Delete entries with index ≥ this before appending. */
  readonly truncateFrom: number | null;
  readonly entries: readonly Entry[];
}

/**
 * Durable storage for a Raft node. `persist` must not return (or resolve) before the batch is
 * durable: the node acknowledges entries and votes only after it completes. Implementations may
 * complete synchronously (in-memory, simulated disk) or asynchronously (files with fsync).
 */
export interface RaftStorage {
  load(): RecoveredState | Promise<RecoveredState>;
  persist(batch: PersistBatch): void | Promise<void>;
  close(): void | Promise<void>;
}
