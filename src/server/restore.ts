import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkeinError } from '../core/errors.ts';
import { KvStore } from '../kv/index.ts';
import type { ClusterConfig } from '../raft/types.ts';
import { wrapSnapshot } from '../raft/snapshot-envelope.ts';
import { FileStorage } from '../storage/file-storage.ts';
import { readBackup } from './backup.ts';

export interface RestoreOptions {
  /** A file written by `skein snapshot save`. */
  readonly file: string;
  /** A new (empty or missing) data directory for the restored member. */
  readonly dataDir: string;
  /** Name of the restored member (its Raft id). */
  readonly name: string;
  /** Peer address the restored member will listen on (recorded in its configuration). */
  readonly peerAddress: string;
}

/**
 * Offline restore, as etcd's `snapshot restore`: build the data directory of a brand-new
 * single-member cluster whose store is the backup's. Start `skein server` on it (same --name and
 * --listen-peer), then grow the cluster with --join. The backup is verified (checksum, and a full
 * decode into a store) before anything is written; an existing data directory is never touched.
 */
export async function restoreBackup(options: RestoreOptions): Promise<{ revision: number; keys: number }> {
  const raftDir = join(options.dataDir, 'raft');
  const existing = await readdir(raftDir).catch(() => [] as string[]);
  if (existing.length > 0) {
    throw new SkeinError(
      'SKEIN_DATA_DIR_NOT_EMPTY',
      `${options.dataDir} already holds a member's data; restore into a new directory`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(options.file);
  } catch (error) {
    throw new SkeinError(
      'SKEIN_INVALID_ARGUMENT',
      `cannot read ${options.file}: ${(error as Error).message}`,
    );
  }
  const backup = readBackup(bytes);
  const store = new KvStore();
  await store.restore(chunksOf(backup.chunks));
  const clusterId = randomUUID();
  const config: ClusterConfig = {
    voters: { [options.name]: options.peerAddress },
    outgoing: {},
    learners: {},
    removed: [],
  };
  const storage = new FileStorage(raftDir, { nodeId: options.name });
  try {
    await storage.load();
    await storage.persist({
      reset: false,
      hardState: { term: 1, vote: options.name, commit: 1, clusterId },
      truncateFrom: null,
      entries: [],
    });
    await storage.saveSnapshot(
      { index: 1, term: 1, config, clusterId, sizeBytes: -1 },
      wrapSnapshot({ recentRequests: [] }, chunksOf(store.snapshot())),
    );
  } finally {
    await storage.close();
  }
  return { revision: store.revision, keys: store.keyCount };
}

async function* chunksOf(chunks: Iterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for (const chunk of chunks) {
    await Promise.resolve();
    yield chunk;
  }
}
