import { decode, encode } from '../core/codec.ts';
import { SkeinError } from '../core/errors.ts';
import { readWhole, type DiskIO } from './disk.ts';
import { corruptError, StorageErrorCode } from './errors.ts';
import { encodeRecord, readRecord, RecordType } from './wal-record.ts';

const identityFormat = 1;

/** Who a data directory belongs to, kept in its IDENTITY file. */
export interface Identity {
  readonly nodeId: string;
  /** Cluster the directory was created for, '' when it was created before joining one. */
  readonly clusterId: string;
}

/** Read the IDENTITY file at `path`; null when it does not exist. */
export async function readIdentity(disk: DiskIO, path: string): Promise<Identity | null> {
  const bytes = await readWhole(disk, path);
  if (bytes === null) return null;
  const record = readRecord(bytes, 0);
  if (typeof record === 'string' || record.type !== RecordType.Identity || record.next !== bytes.byteLength) {
    throw corruptError(path, 0, 'the identity file is damaged');
  }
  const value = decode(record.payload) as Partial<Identity & { format: number }> | null;
  if (
    value?.format !== identityFormat ||
    typeof value.nodeId !== 'string' ||
    typeof value.clusterId !== 'string'
  ) {
    throw corruptError(path, 0, 'the identity file has an unknown format');
  }
  return { nodeId: value.nodeId, clusterId: value.clusterId };
}

/** Write the IDENTITY file atomically: temporary file, fdatasync, rename, directory fsync. */
export async function writeIdentity(
  disk: DiskIO,
  dir: string,
  path: string,
  identity: Identity,
): Promise<void> {
  const tmp = `${path}.tmp`;
  const file = await disk.open(tmp, 'create');
  try {
    await file.write(encodeRecord(RecordType.Identity, encode({ format: identityFormat, ...identity })), 0);
    await file.datasync();
  } finally {
    await file.close();
  }
  await disk.rename(tmp, path);
  await disk.fsyncDir(dir);
}

/** Refuse a directory that belongs to another node, or to another cluster than the one expected. */
export function checkIdentity(
  dir: string,
  found: Identity,
  recoveredClusterId: string,
  expected: { nodeId: string; clusterId: string | undefined },
): void {
  if (found.nodeId !== expected.nodeId) {
    throw new SkeinError(
      StorageErrorCode.Identity,
      `the data directory ${dir} belongs to node ${found.nodeId}, not to node ${expected.nodeId}. ` +
        'Start this node with its own data directory (or with the id that directory belongs to).',
      { details: { dir, foundNodeId: found.nodeId, nodeId: expected.nodeId } },
    );
  }
  const clusterId = recoveredClusterId !== '' ? recoveredClusterId : found.clusterId;
  if (
    expected.clusterId !== undefined &&
    expected.clusterId !== '' &&
    clusterId !== '' &&
    clusterId !== expected.clusterId
  ) {
    throw new SkeinError(
      StorageErrorCode.Identity,
      `the data directory ${dir} belongs to cluster ${clusterId}, not to cluster ${expected.clusterId}. ` +
        'Use a data directory of this cluster, or an empty one for a new member.',
      { details: { dir, foundClusterId: clusterId, clusterId: expected.clusterId } },
    );
  }
}
