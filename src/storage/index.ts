/**
 * skein/storage: where Raft state is made durable.
 * @packageDocumentation
 */
export type { RaftStorage, RecoveredState, PersistBatch, SnapshotMeta, SnapshotReader } from './types.ts';
export { MemoryStorage } from './memory-storage.ts';
export { FileStorage, FileStorageDefaults, type FileStorageOptions } from './file-storage.ts';
export { NodeDisk, type DiskIO, type DiskFile, type DiskReader } from './disk.ts';
export { StorageErrorCode } from './errors.ts';
