import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import { readWhole, type DiskIO } from './disk.ts';
import type { ReplayResult, SegmentFile } from './wal-replay.ts';

/** WAL segment file names: `wal-<sequence, 16 decimal digits>.log`, so they sort by name. */
export const segmentPattern = /^wal-(\d{16})\.log$/;

export function segmentName(seq: number): string {
  return `wal-${String(seq).padStart(16, '0')}.log`;
}

/** Read every WAL segment among `names`, in sequence order. */
export async function readSegmentFiles(
  disk: DiskIO,
  dir: string,
  names: readonly string[],
): Promise<SegmentFile[]> {
  const seqs = names.flatMap((n) => {
    const m = segmentPattern.exec(n);
    return m === null ? [] : [Number(m[1])];
  });
  const files: SegmentFile[] = [];
  for (const seq of seqs.sort((a, b) => a - b)) {
    const path = join(dir, segmentName(seq));
    files.push({ seq, path, bytes: (await readWhole(disk, path)) ?? new Uint8Array(0) });
  }
  return files;
}

/**
 * Cut what a crash left half-written, as found by the replay: a last segment whose header is
 * torn is deleted; a torn tail is truncated to the end of the last complete batch and synced.
 * Neither held anything acknowledged. Both are logged.
 */
export async function repairTail(
  disk: DiskIO,
  dir: string,
  logger: Logger,
  replay: Pick<ReplayResult, 'tornSegment' | 'tornTail'>,
): Promise<void> {
  const { tornSegment, tornTail } = replay;
  if (tornSegment !== null) {
    logger.warn({ file: tornSegment }, 'removing a WAL segment whose header was torn by a crash');
    await disk.unlink(tornSegment);
    await disk.fsyncDir(dir);
  }
  if (tornTail === null) return;
  logger.warn(
    { file: tornTail.path, offsetBytes: tornTail.offset, droppedBytes: tornTail.bytes },
    'truncating a torn WAL tail (an unacknowledged write cut short by a crash)',
  );
  const file = await disk.open(tornTail.path, 'existing');
  try {
    await file.truncate(tornTail.offset);
    await file.datasync();
  } finally {
    await file.close();
  }
}
