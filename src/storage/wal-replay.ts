import { decode } from '../core/codec.ts';
import type { Entry, HardState } from '../raft/types.ts';
import { corruptError } from './errors.ts';
import { findRecordAfter, readRecord, RecordType, type ReadRecord } from './wal-record.ts';

export const walFormatVersion = 1;
export const emptyHardState: HardState = { term: 0, vote: null, commit: 0, clusterId: '' };

/** Payload of the SegmentHeader record. */
export interface SegmentHeader {
  readonly format: number;
  readonly seq: number;
  readonly nodeId: string;
  /** Reset epoch in force at the segment's start. */
  readonly epoch: number;
  /** Hard state in force at the segment's start, so older segments can be deleted. */
  readonly hardState: HardState;
}

/**
 * The log as a replay sees it, keyed by index: entries are contiguous from `entries[0].index`.
 * An append past a gap starts the log afresh at the new index (that is what follows a snapshot
 * install), an append at or below the last index replaces the suffix from there.
 */
export class EntryLog {
  entries: Entry[] = [];

  truncateFrom(index: number): void {
    const first = this.entries[0]?.index;
    if (first === undefined) return;
    this.entries.length = Math.max(0, Math.min(this.entries.length, index - first));
  }

  append(entry: Entry): void {
    const first = this.entries[0]?.index;
    if (first === undefined || entry.index > first + this.entries.length || entry.index < first) {
      this.entries = [entry];
      return;
    }
    this.entries.length = entry.index - first;
    this.entries.push(entry);
  }
}

/** A WAL segment file as found on disk. */
export interface SegmentFile {
  readonly seq: number;
  readonly path: string;
  readonly bytes: Uint8Array;
}

/** What one segment held, for compaction and for appending after recovery. */
export interface SegmentInfo {
  readonly seq: number;
  readonly path: string;
  /** Highest entry index written to it (0 when none). */
  maxIndex: number;
  /** Bytes up to the end of its last complete batch. */
  sizeBytes: number;
}

export interface ReplayResult {
  readonly hardState: HardState;
  readonly entries: Entry[];
  readonly epoch: number;
  /** Segments that hold valid data, oldest first; the last one is where appends continue. */
  readonly segments: SegmentInfo[];
  /** Position of the newest Reset that took effect (segments before it are garbage). */
  readonly resetSegmentIndex: number;
  /** A torn tail found in the last segment: bytes from `offset` to the end are to be cut. */
  readonly tornTail: { readonly path: string; readonly offset: number; readonly bytes: number } | null;
  /** A last segment without even a complete header: to be deleted. */
  readonly tornSegment: string | null;
}

type PendingOp =
  | { readonly type: 'entry'; readonly entry: Entry }
  | { readonly type: 'truncate'; readonly from: number }
  | { readonly type: 'reset'; readonly epoch: number };

/**
 * Replay WAL segments (sorted by sequence) into the state they describe. Records take effect a
 * batch at a time, at the batch's Commit record, so a batch is all-or-nothing. In the last
 * segment, zeros from the end of the last batch to the end of the file are preallocated space,
 * and a damaged record with no valid Commit record after it is a torn tail (nothing after it was
 * acknowledged); any other damage is corruption and throws SKEIN_STORAGE_CORRUPT naming the file
 * and offset. Segments before the last must end exactly at the end of their last batch.
 */
export function replaySegments(files: readonly SegmentFile[], nodeId: string): ReplayResult {
  const log = new EntryLog();
  let hardState = emptyHardState;
  let epoch = 0;
  let resetSegmentIndex = 0;
  const segments: SegmentInfo[] = [];
  let tornTail: ReplayResult['tornTail'] = null;
  let tornSegment: string | null = null;

  for (const [i, file] of files.entries()) {
    const isLast = i === files.length - 1;
    if (i > 0 && file.seq !== files[i - 1]!.seq + 1) {
      throw corruptError(file.path, 0, `segment ${files[i - 1]!.seq + 1} is missing before it`);
    }
    const first = readRecord(file.bytes, 0);
    if (typeof first === 'string') {
      if (isLast && findRecordAfter(file.bytes, 0, RecordType.Commit) === null) {
        tornSegment = file.path;
        break;
      }
      throw corruptError(file.path, 0, `segment header is unreadable (${first})`);
    }
    const header = parseHeader(first, file, nodeId);
    if (i === 0) {
      hardState = header.hardState;
      epoch = header.epoch;
    } else if (header.epoch !== epoch) {
      throw corruptError(file.path, 0, `segment starts in reset epoch ${header.epoch}, expected ${epoch}`);
    }
    const info: SegmentInfo = { seq: file.seq, path: file.path, maxIndex: 0, sizeBytes: first.next };
    segments.push(info);
    let pending: PendingOp[] = [];
    let offset = first.next;
    while (offset < file.bytes.byteLength) {
      const record = readRecord(file.bytes, offset);
      if (typeof record === 'string') {
        if (isLast && findRecordAfter(file.bytes, offset, RecordType.Commit) === null) break;
        throw corruptError(file.path, offset, `${describeFault(record)} before the end of the log`);
      }
      offset = record.next;
      if (record.type !== RecordType.Commit) {
        pending.push(parseOp(record, file.path));
        continue;
      }
      for (const op of pending) {
        if (op.type === 'entry') {
          log.append(op.entry);
          info.maxIndex = Math.max(info.maxIndex, op.entry.index);
        } else if (op.type === 'truncate') {
          log.truncateFrom(op.from);
        } else {
          log.entries = [];
          hardState = emptyHardState;
          epoch = op.epoch;
          resetSegmentIndex = segments.length - 1;
        }
      }
      pending = [];
      const committed = decodePayload(record, file.path);
      if (committed !== null) hardState = parseHardState(committed, record, file.path);
      info.sizeBytes = record.next;
    }
    if (info.sizeBytes < file.bytes.byteLength) {
      if (!isLast)
        throw corruptError(file.path, info.sizeBytes, 'an incomplete batch before the last segment');
      // Zeros are space preallocated for appends (FileStorage's preallocateBytes), not a torn write.
      if (!isZeroFrom(file.bytes, info.sizeBytes)) {
        tornTail = { path: file.path, offset: info.sizeBytes, bytes: file.bytes.byteLength - info.sizeBytes };
      }
    }
  }
  return { hardState, entries: log.entries, epoch, segments, resetSegmentIndex, tornTail, tornSegment };
}

/** True when every byte of `bytes` from `offset` on is zero. */
function isZeroFrom(bytes: Uint8Array, offset: number): boolean {
  for (let at = offset; at < bytes.byteLength; at++) if (bytes[at] !== 0) return false;
  return true;
}

function describeFault(fault: string): string {
  return fault === 'short' ? 'a record cut short' : `a record with a ${fault.replace('bad-', 'bad ')}`;
}

function decodePayload(record: ReadRecord, path: string): unknown {
  try {
    return decode(record.payload);
  } catch (cause) {
    throw corruptError(path, record.offset, `the payload does not decode (${String(cause)})`);
  }
}

function parseHeader(record: ReadRecord, file: SegmentFile, nodeId: string): SegmentHeader {
  if (record.type !== RecordType.SegmentHeader) {
    throw corruptError(file.path, 0, `the first record has type ${record.type}, not a segment header`);
  }
  const h = decodePayload(record, file.path) as Partial<SegmentHeader> | null;
  if (h === null || typeof h !== 'object' || h.format !== walFormatVersion) {
    throw corruptError(file.path, 0, `unknown segment format ${String(h?.format)}`);
  }
  if (h.seq !== file.seq) throw corruptError(file.path, 0, `the header says segment ${String(h.seq)}`);
  if (h.nodeId !== nodeId) {
    throw corruptError(file.path, 0, `the segment was written by node ${String(h.nodeId)}, not ${nodeId}`);
  }
  if (typeof h.epoch !== 'number') throw corruptError(file.path, 0, 'the header has no epoch');
  return { ...(h as SegmentHeader), hardState: parseHardState(h.hardState, record, file.path) };
}

function parseOp(record: ReadRecord, path: string): PendingOp {
  const value = decodePayload(record, path);
  switch (record.type) {
    case RecordType.Entry: {
      if (!Array.isArray(value) || value.length !== 4)
        throw corruptError(path, record.offset, 'a malformed entry');
      const [index, term, kind, data] = value as [number, number, Entry['kind'], unknown];
      // Copy bytes out of the segment buffer so one live entry does not pin a whole segment.
      return {
        type: 'entry',
        entry: { index, term, kind, data: data instanceof Buffer ? Buffer.from(data) : data },
      };
    }
    case RecordType.Truncate:
      if (typeof value !== 'number') throw corruptError(path, record.offset, 'a malformed truncation');
      return { type: 'truncate', from: value };
    case RecordType.Reset:
      if (typeof value !== 'number') throw corruptError(path, record.offset, 'a malformed reset');
      return { type: 'reset', epoch: value };
    default:
      throw corruptError(
        path,
        record.offset,
        `a record of type ${record.type} does not belong in a WAL segment`,
      );
  }
}

function parseHardState(value: unknown, record: ReadRecord, path: string): HardState {
  const h = value as Partial<HardState> | null;
  if (
    h === null ||
    typeof h !== 'object' ||
    typeof h.term !== 'number' ||
    typeof h.commit !== 'number' ||
    typeof h.clusterId !== 'string' ||
    (h.vote !== null && typeof h.vote !== 'string')
  ) {
    throw corruptError(path, record.offset, 'a malformed hard state');
  }
  return { term: h.term, vote: h.vote, commit: h.commit, clusterId: h.clusterId };
}
