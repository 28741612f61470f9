/**
 * skein/storage: where Raft state is made durable.
 * @packageDocumentation
 */
export type { RaftStorage, RecoveredState, PersistBatch, SnapshotMeta, SnapshotReader } from './types.ts';
export { MemoryStorage } from './memory-storage.ts';
