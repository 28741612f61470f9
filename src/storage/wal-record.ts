import { crc32 } from 'node:zlib';
import { crc32c } from '../core/crc32c.ts';

/**
 * The record, the unit of every file skein/storage writes:
 *
 * ```
 * [len u32 LE][crc u32 LE][type u8][payload: len bytes]
 * ```
 *
 * `crc` is computed over the four `len` bytes, the type byte and the payload, so a flipped length
 * is caught as surely as a flipped payload byte. It is CRC-32C for every type but SnapshotData,
 * whose bulk bytes use CRC-32 (IEEE) because Node computes that one natively (`zlib.crc32`,
 * about 2 GB/s against 0.3 GB/s for CRC-32C in JavaScript): a snapshot of gigabytes is
 * checksummed several times on its way to a new member. A type byte flipped between the two
 * fails the check of either algorithm.
 */
export const RecordType = {
  /** First record of every WAL segment: format, sequence, node id, epoch and hard state at its start. */
  SegmentHeader: 1,
  /** One log entry: msgpack `[index, term, kind, data]`. */
  Entry: 2,
  /** Drop entries with index ≥ msgpack `from`. */
  Truncate: 3,
  /** Discard all state; msgpack `epoch` is the new reset epoch. */
  Reset: 4,
  /** End of a batch: the records since the previous Commit take effect, then the hard state (or nil). */
  Commit: 5,
  /** First record of a snapshot file: msgpack `{ meta, epoch }`. */
  SnapshotMeta: 16,
  /** Raw snapshot data, CRC-32C (written by older versions; still read). */
  SnapshotChunk: 17,
  /** Last record of a snapshot file: u32 chunk count, f64 size in bytes. */
  SnapshotEnd: 18,
  /** Raw snapshot data, checksummed with CRC-32 (IEEE) instead of CRC-32C. */
  SnapshotData: 19,
  /** The IDENTITY file: msgpack `{ format, nodeId, clusterId }`. */
  Identity: 32,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

const knownTypes = new Set<number>(Object.values(RecordType));

export const recordHeaderBytes = 9;

/** No record is ever larger than this, whatever the configuration: a longer length is damage. */
export const maxRecordBytesCeiling = 256 * 1024 * 1024;

/** The checksum of a record of type `type` whose len bytes are `len`, over `parts` (type byte, payload). */
function recordCrc(type: number, len: Uint8Array, ...parts: Uint8Array[]): number {
  const crc = type === RecordType.SnapshotData ? crc32 : crc32c;
  let c = crc(len, 0);
  for (const part of parts) c = crc(part, c);
  return c;
}

/** Append the record for `payload` to `out` at `at`; returns the offset after it. */
export function writeRecord(out: Buffer, at: number, type: RecordType, payload: Uint8Array): number {
  out.set(payload, at + recordHeaderBytes);
  writeRecordHeader(out, at, type, payload);
  return at + recordHeaderBytes + payload.byteLength;
}

/**
 * Write the 9-byte header of the record for `payload` at `at` of `out`, without copying the
 * payload: for bulk data written next to its header (`writev`-style) rather than into `out`.
 */
export function writeRecordHeader(out: Buffer, at: number, type: RecordType, payload: Uint8Array): void {
  out.writeUInt32LE(payload.byteLength, at);
  out[at + 8] = type;
  out.writeUInt32LE(recordCrc(type, out.subarray(at, at + 4), out.subarray(at + 8, at + 9), payload), at + 4);
}

/** One record as its own buffer. */
export function encodeRecord(type: RecordType, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(recordHeaderBytes + payload.byteLength);
  writeRecord(out, 0, type, payload);
  return out;
}

/** A record read back: its type, payload (a view into the read buffer) and where the next one starts. */
export interface ReadRecord {
  readonly type: RecordType;
  readonly payload: Uint8Array;
  readonly offset: number;
  readonly next: number;
}

/** Why the bytes at an offset are not a record. `short` means the file ends inside it. */
export type RecordFault = 'short' | 'bad-length' | 'bad-checksum' | 'bad-type';

/** The record at `offset` of `bytes`, or the reason there is none. */
export function readRecord(bytes: Uint8Array, offset: number): ReadRecord | RecordFault {
  if (offset + recordHeaderBytes > bytes.byteLength) return 'short';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getUint32(offset, true);
  if (len > maxRecordBytesCeiling) return 'bad-length';
  const next = offset + recordHeaderBytes + len;
  if (next > bytes.byteLength) return 'short';
  const type = bytes[offset + 8]!;
  const crc = recordCrc(type, bytes.subarray(offset, offset + 4), bytes.subarray(offset + 8, next));
  if (crc !== view.getUint32(offset + 4, true)) return 'bad-checksum';
  if (!knownTypes.has(type)) return 'bad-type';
  return {
    type: type as RecordType,
    payload: bytes.subarray(offset + recordHeaderBytes, next),
    offset,
    next,
  };
}

/**
 * Offset of the first valid record of type `type` after `offset`, or null. Recovery asks this
 * about Commit records: damage followed by a committed batch is corruption in the middle of the
 * log (that batch may have been acknowledged); damage with no commit after it is a torn,
 * unacknowledged tail.
 */
export function findRecordAfter(bytes: Uint8Array, offset: number, type: RecordType): number | null {
  for (let at = offset + 1; at + recordHeaderBytes <= bytes.byteLength; at++) {
    // Cheap checks first: most offsets fail on the type byte or the length.
    if (bytes[at + 8] !== type) continue;
    const len = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
    if (len < 0 || at + recordHeaderBytes + len > bytes.byteLength) continue;
    if (typeof readRecord(bytes, at) !== 'string') return at;
  }
  return null;
}
