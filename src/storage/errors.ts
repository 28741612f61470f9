import { SkeinError } from '../core/errors.ts';

/** Stable error codes raised by skein/storage. */
export const StorageErrorCode = {
  /** A record before the tail of the log (or a snapshot) failed its checksum or is malformed. */
  Corrupt: 'SKEIN_STORAGE_CORRUPT',
  /** The disk is full: the write was refused and nothing acknowledged was lost. */
  Full: 'SKEIN_STORAGE_FULL',
  /** The data directory belongs to another node or cluster. */
  Identity: 'SKEIN_STORAGE_IDENTITY',
  /** One record (an entry, a hard state) is larger than `maxRecordBytes`. */
  RecordTooLarge: 'SKEIN_STORAGE_RECORD_TOO_LARGE',
  /** An I/O error left the storage in an unknown state; the node must restart and recover. */
  Failed: 'SKEIN_STORAGE_FAILED',
  /** The snapshot being opened was replaced by a newer one; open it again. */
  SnapshotReplaced: 'SKEIN_STORAGE_SNAPSHOT_REPLACED',
  /** The storage was closed, or used before `load()`. */
  Closed: 'SKEIN_STORAGE_CLOSED',
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

/** What an operator does about a corrupt data directory; repeated in every corruption error. */
export const corruptionAdvice =
  'The node cannot trust its log. Stop it, move the data directory aside (keep it for diagnosis), ' +
  'and restart the node with an empty data directory so that it catches up from its peers ' +
  '(see docs/storage.md, "After corruption").';

/** A damaged record: names the file and byte offset and says how to recover. */
export function corruptError(file: string, offsetBytes: number, reason: string): SkeinError {
  return new SkeinError(
    StorageErrorCode.Corrupt,
    `${file} is corrupt at byte offset ${offsetBytes}: ${reason}. ${corruptionAdvice}`,
    { details: { file, offsetBytes, reason } },
  );
}

/** The disk ran out of space while writing. */
export function fullError(file: string, cause: unknown): SkeinError {
  return new SkeinError(
    StorageErrorCode.Full,
    `no space left on the device while writing ${file}; the write was not acknowledged and the log ` +
      'is intact. Free disk space: the node accepts writes again on its next attempt.',
    { cause, details: { file } },
  );
}

/** An I/O error other than a full disk: the storage refuses further writes until reloaded. */
export function failedError(file: string, cause: unknown): SkeinError {
  return new SkeinError(
    StorageErrorCode.Failed,
    `I/O error on ${file}; the storage stopped accepting writes because the state of unsynced data is ` +
      'unknown. Restart the node: recovery keeps everything that was acknowledged.',
    { cause, details: { file } },
  );
}

/** True when `error` is the operating system's "no space left on device". */
export function isNoSpace(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    ((error as { code?: unknown }).code === 'ENOSPC' || (error as { code?: unknown }).code === 'EDQUOT')
  );
}
