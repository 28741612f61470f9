import { join } from 'node:path';
import { encode } from '../core/codec.ts';
import { assert, SkeinError } from '../core/errors.ts';
import { DefaultLimits } from '../core/limits.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import type { Entry, HardState } from '../raft/types.ts';
import { NodeDisk, type DiskFile, type DiskIO } from './disk.ts';
import { corruptError, failedError, fullError, isNoSpace, StorageErrorCode } from './errors.ts';
import { checkIdentity, readIdentity, writeIdentity, type Identity } from './identity.ts';
import {
  readSnapshotChunks,
  readSnapshotMeta,
  writeSnapshotFile,
  type StoredSnapshot,
} from './snapshot-file.ts';
import type { PersistBatch, RaftStorage, RecoveredState, SnapshotMeta, SnapshotReader } from './types.ts';
import { emptyHardState, replaySegments, walFormatVersion, type SegmentInfo } from './wal-replay.ts';
import { readSegmentFiles, repairTail, segmentName, segmentPattern } from './wal-recovery.ts';
import { maxRecordBytesCeiling, recordHeaderBytes, RecordType, writeRecord } from './wal-record.ts';

/** Options of {@link FileStorage}. */
export interface FileStorageOptions {
  /** Id of the node this directory belongs to; a directory of another node is refused. */
  readonly nodeId: string;
  /** When set, a directory that belongs to another cluster is refused. */
  readonly clusterId?: string;
  /** File-system operations; the real file system by default, `SimDisk` in the simulator. */
  readonly disk?: DiskIO;
  /** A segment is closed and a new one started once it reaches this size (default 64 MiB). */
  readonly maxSegmentBytes?: number;
  /**
   * The segment being appended to is zero-filled this far past its last batch whenever a batch
   * would run past what is already there (default 128 KiB, at most maxSegmentBytes; 0 turns it
   * off). A batch then overwrites blocks the file already has, so its fdatasync flushes only
   * data, not also a new file size through the file system's journal.
   */
  readonly preallocateBytes?: number;
  /** Largest single record, e.g. one entry (default 16 MiB, the transport's largest frame). */
  readonly maxRecordBytes?: number;
  /** Snapshot data is stored in checksummed chunks of at most this size (default 1 MiB, at most maxRecordBytes). */
  readonly snapshotChunkBytes?: number;
  readonly logger?: Logger;
}

export const FileStorageDefaults = {
  maxSegmentBytes: 64 * 1024 * 1024,
  preallocateBytes: 128 * 1024,
  maxRecordBytes: DefaultLimits.maxFrameBytes,
  snapshotChunkBytes: 1024 * 1024,
} as const;

const identityName = 'IDENTITY';
const snapshotName = 'snapshot.snap';
const snapshotTmpName = 'snapshot.tmp';

/**
 * Raft storage in a directory: a segmented write-ahead log, a snapshot file and an identity file
 * (the layout and the recovery rules are in docs/storage.md). Each `persist` appends its batch
 * as records ending in a Commit record and completes after ONE fdatasync, so a batch is durable
 * and all-or-nothing. Operations run one at a time, in call order.
 *
 * Call {@link load} once before anything else.
 */
export class FileStorage implements RaftStorage {
  readonly #dir: string;
  readonly #disk: DiskIO;
  readonly #nodeId: string;
  readonly #clusterId: string | undefined;
  readonly #maxSegmentBytes: number;
  readonly #preallocateBytes: number;
  readonly #maxRecordBytes: number;
  readonly #snapshotChunkBytes: number;
  readonly #logger: Logger;

  #state: 'new' | 'loading' | 'open' | 'closed' = 'new';
  /** Set by an I/O error that leaves unsynced state unknown: every later write is refused. */
  #failed: SkeinError | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  /** Tasks given to #exclusive that have not settled yet. */
  #pendingTasks = 0;
  #snapshotQueue: Promise<unknown> = Promise.resolve();
  #segments: SegmentInfo[] = [];
  #current: DiskFile | null = null;
  /** True when the current segment may hold bytes past its last batch (a failed write). */
  #dirtyTail = false;
  /** The current segment has bytes written without an fsync (a commit-index-only batch). */
  #unsynced = false;
  /** Size of the current segment's file: its batches, then zeros (preallocated) or a failed write. */
  #fileBytes = 0;
  /** Preallocation ran out of disk space: append without it until a new segment is started. */
  #preallocateOff = false;
  #hardState: HardState = emptyHardState;
  #epoch = 0;
  #snapshot: StoredSnapshot | null = null;

  constructor(dir: string, options: FileStorageOptions) {
    this.#dir = dir;
    this.#disk = options.disk ?? new NodeDisk();
    this.#nodeId = options.nodeId;
    this.#clusterId = options.clusterId;
    this.#maxSegmentBytes = options.maxSegmentBytes ?? FileStorageDefaults.maxSegmentBytes;
    this.#preallocateBytes = Math.min(
      options.preallocateBytes ?? FileStorageDefaults.preallocateBytes,
      this.#maxSegmentBytes,
    );
    this.#maxRecordBytes = options.maxRecordBytes ?? FileStorageDefaults.maxRecordBytes;
    this.#snapshotChunkBytes =
      options.snapshotChunkBytes ?? Math.min(FileStorageDefaults.snapshotChunkBytes, this.#maxRecordBytes);
    this.#logger = options.logger ?? silentLogger;
    assert(this.#maxSegmentBytes > 0, 'maxSegmentBytes must be positive');
    assert(
      Number.isSafeInteger(this.#preallocateBytes) && this.#preallocateBytes >= 0,
      'bad preallocateBytes',
    );
    assert(
      this.#maxRecordBytes > 0 && this.#maxRecordBytes <= maxRecordBytesCeiling,
      `maxRecordBytes must be in (0, ${maxRecordBytesCeiling}]`,
    );
    assert(
      this.#snapshotChunkBytes > 0 && this.#snapshotChunkBytes <= this.#maxRecordBytes,
      'bad snapshotChunkBytes',
    );
  }

  /** Recover the directory (creating it when empty): truncate a torn tail, refuse corruption. */
  async load(): Promise<RecoveredState> {
    assert(this.#state === 'new', 'FileStorage.load() may be called once');
    this.#state = 'loading';
    await this.#disk.mkdir(this.#dir);
    const names = await this.#disk.list(this.#dir);
    const identity = await this.#loadIdentity(names);
    const expected = { nodeId: this.#nodeId, clusterId: this.#clusterId };
    checkIdentity(this.#dir, identity, '', expected);
    const segmentFiles = await readSegmentFiles(this.#disk, this.#dir, names);
    const replay = replaySegments(segmentFiles, this.#nodeId);
    checkIdentity(this.#dir, identity, replay.hardState.clusterId, expected);
    this.#hardState = replay.hardState;
    this.#epoch = replay.epoch;
    this.#segments = replay.segments;
    await repairTail(this.#disk, this.#dir, this.#logger, replay);
    await this.#dropSegments(replay.resetSegmentIndex, 'they precede a reset');
    await this.#disk.unlink(this.#path(snapshotTmpName));
    this.#snapshot = await this.#loadSnapshot();
    if (this.#segments.length === 0) await this.#createFirstSegment(segmentFiles.at(-1)?.seq ?? 1);
    else {
      const last = this.#segments.at(-1)!;
      this.#current = await this.#disk.open(last.path, 'existing');
      const { tornTail } = replay;
      const file = segmentFiles.find((f) => f.path === last.path)!;
      this.#fileBytes = tornTail?.path === last.path ? tornTail.offset : file.bytes.byteLength;
    }
    this.#state = 'open';
    const snapIndex = this.#snapshot?.meta.index ?? 0;
    this.#logger.info(
      { dir: this.#dir, segments: this.#segments.length, entries: replay.entries.length, snapIndex },
      'storage recovered',
    );
    return {
      hardState: this.#hardState,
      entries: replay.entries.filter((e) => e.index > snapIndex),
      ...(this.#snapshot === null ? {} : { snapshot: this.#snapshot.meta }),
    };
  }

  /**
   * Append `batch` and resolve once it is durable (one fdatasync). A batch with nothing to store
   * completes at once. On a full disk it rejects with SKEIN_STORAGE_FULL and may be retried.
   */
  persist(batch: PersistBatch): void | Promise<void> {
    this.#checkOpen();
    if (
      !batch.reset &&
      batch.hardState === null &&
      batch.truncateFrom === null &&
      batch.entries.length === 0
    ) {
      return;
    }
    return this.#exclusive(() => this.#append(batch, this.#encodeBatch(batch)));
  }

  /** Durably replace the snapshot; the previous one stays in force until the new one is durable. */
  saveSnapshot(meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.#checkOpen();
    const run = this.#snapshotQueue.then(() => this.#saveSnapshot(meta, chunks));
    this.#snapshotQueue = run.catch(() => undefined);
    return run;
  }

  openSnapshot(): Promise<SnapshotReader | null> {
    this.#checkOpen();
    const stored = this.#snapshot;
    if (stored === null) return Promise.resolve(null);
    const disk = this.#disk;
    const path = this.#path(snapshotName);
    return Promise.resolve({
      meta: stored.meta,
      chunks: (chunkBytes: number) => readSnapshotChunks(disk, path, stored.meta, chunkBytes),
    });
  }

  /**
   * Delete the oldest segments whose entries all have index ≤ `index`. Never goes past the durable
   * snapshot, and never deletes the segment being appended to.
   */
  compact(index: number): Promise<void> {
    this.#checkOpen();
    return this.#exclusive(async () => {
      if (this.#failed !== null) throw this.#failed;
      const limit = Math.min(index, this.#snapshot?.meta.index ?? 0);
      while (this.#segments.length > 1 && this.#segments[0]!.maxIndex <= limit) {
        const oldest = this.#segments[0]!;
        try {
          await this.#disk.unlink(oldest.path);
          // One directory fsync per removal: a crash then leaves the oldest segments gone, never a
          // gap. So after an error here, which leaves unknown which removals are durable, nothing
          // more may be removed, or written, until a restart has recovered what is there.
          await this.#disk.fsyncDir(this.#dir);
        } catch (error) {
          this.#failed = failedError(oldest.path, error);
          throw this.#failed;
        }
        this.#segments.shift();
        this.#logger.debug({ file: oldest.path, limit }, 'deleted a compacted segment');
      }
    });
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    await this.#exclusive(async () => {
      this.#state = 'closed';
      await this.#current?.close();
      this.#current = null;
    });
    await this.#snapshotQueue;
  }

  #path(name: string): string {
    return join(this.#dir, name);
  }

  #checkOpen(): void {
    if (this.#state !== 'open') {
      throw new SkeinError(
        StorageErrorCode.Closed,
        this.#state === 'closed'
          ? 'the storage is closed'
          : 'call FileStorage.load() before using the storage',
      );
    }
  }

  /**
   * Run `task` after every earlier operation, whatever their outcome. When none is pending it
   * starts at once, not on a later microtask: an append then has its write made and its fdatasync
   * started before `persist` returns, ahead of whatever the caller does next (applying entries).
   */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#pendingTasks === 0 ? startNow(task) : this.#queue.then(task);
    this.#pendingTasks++;
    const settled = (): void => {
      this.#pendingTasks--;
    };
    this.#queue = run.then(settled, settled);
    return run;
  }

  async #loadIdentity(names: readonly string[]): Promise<Identity> {
    const path = this.#path(identityName);
    const found = await readIdentity(this.#disk, path);
    if (found !== null) return found;
    const data = names.filter((n) => segmentPattern.test(n) || n === snapshotName);
    if (data.length > 0) {
      throw corruptError(path, 0, `the file is missing although the directory holds ${data.join(', ')}`);
    }
    const identity = { nodeId: this.#nodeId, clusterId: this.#clusterId ?? '' };
    await writeIdentity(this.#disk, this.#dir, path, identity);
    this.#logger.info({ dir: this.#dir, ...identity }, 'created a new data directory');
    return identity;
  }

  /** Delete the segments before `count` (oldest first), e.g. those a reset made obsolete. */
  async #dropSegments(count: number, why: string): Promise<void> {
    if (count <= 0) return;
    const dropped = this.#segments.splice(0, count);
    for (const segment of dropped) {
      await this.#disk.unlink(segment.path);
      await this.#disk.fsyncDir(this.#dir);
    }
    this.#logger.info({ files: dropped.map((s) => s.path) }, `deleted WAL segments: ${why}`);
  }

  async #loadSnapshot(): Promise<StoredSnapshot | null> {
    const path = this.#path(snapshotName);
    const stored = await readSnapshotMeta(this.#disk, path);
    if (stored === null || stored.epoch === this.#epoch) return stored;
    this.#logger.info({ file: path }, 'deleting a snapshot taken before the node was reset');
    await this.#disk.unlink(path);
    await this.#disk.fsyncDir(this.#dir);
    return null;
  }

  async #createFirstSegment(seq: number): Promise<void> {
    const header = this.#headerRecord(seq);
    const buffer = Buffer.allocUnsafe(recordHeaderBytes + header.payload.byteLength);
    writeRecord(buffer, 0, header.type, header.payload);
    const path = this.#path(segmentName(seq));
    const file = await this.#disk.open(path, 'create');
    await file.write(buffer, 0);
    await file.datasync();
    await this.#disk.fsyncDir(this.#dir);
    this.#current = file;
    this.#fileBytes = buffer.byteLength;
    this.#segments = [{ seq, path, maxIndex: 0, sizeBytes: buffer.byteLength }];
  }

  #headerRecord(seq: number): { type: RecordType; payload: Uint8Array } {
    const header = {
      format: walFormatVersion,
      seq,
      nodeId: this.#nodeId,
      epoch: this.#epoch,
      hardState: this.#hardState,
    };
    return { type: RecordType.SegmentHeader, payload: encode(header) };
  }

  /** The records of a batch, checked against maxRecordBytes before anything is written. */
  #encodeBatch(batch: PersistBatch): { type: RecordType; payload: Uint8Array }[] {
    const records: { type: RecordType; payload: Uint8Array }[] = [];
    if (batch.truncateFrom !== null)
      records.push({ type: RecordType.Truncate, payload: encode(batch.truncateFrom) });
    for (const e of batch.entries) {
      const payload = encode([e.index, e.term, e.kind, e.data]);
      if (payload.byteLength > this.#maxRecordBytes)
        throw tooLarge(e, payload.byteLength, this.#maxRecordBytes);
      records.push({ type: RecordType.Entry, payload });
    }
    records.push({ type: RecordType.Commit, payload: encode(batch.hardState) });
    return records;
  }

  async #append(batch: PersistBatch, records: { type: RecordType; payload: Uint8Array }[]): Promise<void> {
    if (this.#failed !== null) throw this.#failed;
    const last = this.#segments.at(-1)!;
    const rotate = batch.reset || last.sizeBytes >= this.#maxSegmentBytes;
    const target = rotate ? { seq: last.seq + 1, path: this.#path(segmentName(last.seq + 1)) } : last;
    // The Reset record is made here, in turn, because it carries the epoch it starts.
    const reset = batch.reset ? [{ type: RecordType.Reset, payload: encode(this.#epoch + 1) }] : [];
    const all = rotate ? [this.#headerRecord(target.seq), ...reset, ...records] : records;
    const batchBytes = all.reduce((n, r) => n + recordHeaderBytes + r.payload.byteLength, 0);
    const position = rotate ? 0 : last.sizeBytes;
    const preallocate = this.#preallocateOff ? 0 : this.#preallocateBytes;
    const fileBytes = rotate ? 0 : this.#fileBytes;
    // Past the zeros already there: write the batch followed by the next stretch of zeros.
    const zeros = position + batchBytes > fileBytes ? preallocate : 0;
    const buffer = Buffer.allocUnsafe(batchBytes + zeros);
    let at = 0;
    for (const r of all) at = writeRecord(buffer, at, r.type, r.payload);
    buffer.fill(0, at);
    let file = this.#current!;
    try {
      if (this.#dirtyTail || (rotate && this.#fileBytes > last.sizeBytes)) {
        // Cut what a failed write left behind, or the unused preallocated zeros of a segment being
        // closed. Before moving on to a new segment the cut must be durable: only the last segment
        // may end in anything but a complete batch.
        await file.truncate(last.sizeBytes);
        this.#fileBytes = last.sizeBytes;
        if (rotate) {
          await file.datasync();
          this.#unsynced = false; // that fdatasync covered them
        }
        this.#dirtyTail = false;
      }
      // Only the last segment may end torn: unsynced writes are made durable before moving on.
      if (rotate && this.#unsynced) await file.datasync();
      if (rotate) file = await this.#disk.open(target.path, 'create');
      // A commit-index-only batch needs no fsync (Raft's commit index is volatile); the next
      // synced write covers it.
      const sync = batch.mustSync !== false || rotate;
      if (sync) await file.writeAndSync(buffer, position);
      else await file.write(buffer, position);
      this.#unsynced = !sync;
      if (rotate) await this.#disk.fsyncDir(this.#dir);
    } catch (error) {
      if (rotate && file !== this.#current) await this.#abandonSegment(file, target.path);
      if (!rotate) this.#dirtyTail = true; // (a failed cut leaves it set too)
      if (isNoSpace(error)) {
        // The retry goes without zeros, so a batch that fits still goes in.
        if (zeros > 0) this.#preallocateOff = true;
        throw fullError(target.path, error);
      }
      this.#failed = failedError(target.path, error);
      throw this.#failed;
    }
    const maxIndex = batch.entries.reduce((m, e) => Math.max(m, e.index), 0);
    this.#fileBytes = Math.max(rotate ? 0 : this.#fileBytes, position + buffer.byteLength);
    if (rotate) {
      this.#preallocateOff = false;
      await this.#current!.close();
      this.#current = file;
      this.#segments.push({ seq: target.seq, path: target.path, maxIndex, sizeBytes: batchBytes });
    } else {
      last.sizeBytes += batchBytes;
      last.maxIndex = Math.max(last.maxIndex, maxIndex);
    }
    if (batch.reset) this.#hardState = emptyHardState;
    if (batch.hardState !== null) this.#hardState = batch.hardState;
    if (batch.reset) await this.#afterReset();
  }

  /**
   * A new segment could not be written: remove it so the next attempt starts it again. If even
   * that fails, refuse further writes (a stray segment would be taken for the newest one), and
   * let recovery sort it out after a restart.
   */
  async #abandonSegment(file: DiskFile, path: string): Promise<void> {
    try {
      await file.close();
      await this.#disk.unlink(path);
    } catch (error) {
      this.#failed = failedError(path, error);
    }
  }

  /** The reset batch is durable: the old segments and the snapshot are garbage now. */
  async #afterReset(): Promise<void> {
    this.#epoch++;
    this.#snapshot = null;
    await this.#dropSegments(this.#segments.length - 1, 'the node was reset');
    await this.#disk.unlink(this.#path(snapshotName));
    await this.#disk.fsyncDir(this.#dir);
    await writeIdentity(this.#disk, this.#dir, this.#path(identityName), {
      nodeId: this.#nodeId,
      clusterId: '',
    });
  }

  async #saveSnapshot(meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.#failed !== null) throw this.#failed;
    const epoch = this.#epoch;
    const tmp = this.#path(snapshotTmpName);
    let sizeBytes: number;
    try {
      sizeBytes = await writeSnapshotFile(this.#disk, tmp, { meta, epoch }, chunks, this.#snapshotChunkBytes);
    } catch (error) {
      await this.#disk.unlink(tmp).catch(() => undefined);
      if (isNoSpace(error)) throw fullError(tmp, error);
      throw error;
    }
    await this.#exclusive(async () => {
      if (this.#failed !== null) throw this.#failed; // load() removes the temporary file
      if (this.#epoch !== epoch) {
        await this.#disk.unlink(tmp);
        throw new SkeinError(
          StorageErrorCode.SnapshotReplaced,
          'the node was reset while the snapshot was written',
        );
      }
      try {
        await this.#disk.rename(tmp, this.#path(snapshotName));
        await this.#disk.fsyncDir(this.#dir);
      } catch (error) {
        this.#failed = failedError(this.#path(snapshotName), error);
        throw this.#failed;
      }
      // Like MemoryStorage, the stored size is the size of the data actually streamed.
      this.#snapshot = { meta: { ...meta, sizeBytes }, epoch };
    });
  }
}

/** `task()` called now, with a synchronous throw turned into a rejection, as `.then(task)` would. */
async function startNow<T>(task: () => Promise<T>): Promise<T> {
  return await task();
}

function tooLarge(entry: Entry, bytes: number, maxRecordBytes: number): SkeinError {
  return new SkeinError(
    StorageErrorCode.RecordTooLarge,
    `entry ${entry.index} takes ${bytes} bytes, more than maxRecordBytes (${maxRecordBytes}); ` +
      'bound commands with the raft maxCommandBytes, or raise maxRecordBytes',
    { details: { index: entry.index, bytes, maxRecordBytes } },
  );
}
