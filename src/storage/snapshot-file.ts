import { decode, encode } from '../core/codec.ts';
import type { DiskFile, DiskIO, DiskReader } from './disk.ts';
import { corruptError, StorageErrorCode } from './errors.ts';
import { headerLength, readRecordsFrom, recordReadBlockBytes } from './record-reader.ts';
import { SkeinError } from '../core/errors.ts';
import {
  readRecord,
  recordHeaderBytes,
  RecordType,
  writeRecord,
  writeRecordHeader,
  type ReadRecord,
} from './wal-record.ts';
import type { SnapshotMeta } from './types.ts';

/**
 * A snapshot file is a sequence of records: SnapshotMeta `{ meta, epoch }`, any number of
 * SnapshotData records holding the data (SnapshotChunk in files of older versions), and a
 * fixed-size SnapshotEnd (u32 chunk count, f64 total bytes). Every chunk carries its own CRC, so
 * a reader verifies the data as it streams it.
 */
export interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  /** Reset epoch the snapshot belongs to: a snapshot from before a reset is stale. */
  readonly epoch: number;
}

const endPayloadBytes = 12;
const endRecordBytes = recordHeaderBytes + endPayloadBytes;

/**
 * Bytes gathered before one write to the snapshot file. Two such buffers alternate, so that one
 * is written while the next fills: large sequential writes, few system calls, and the network
 * keeps delivering chunks while the disk works. Bounded: at most two buffers per save.
 */
export const snapshotWriteBufferBytes = 8 * 1024 * 1024;

/**
 * An fdatasync is started after every this many bytes written, so that the disk writes back while
 * the data streams in instead of all at the end: with gigabytes of RAM the kernel would otherwise
 * keep a whole snapshot dirty and the final fdatasync would wait for all of it. The sync runs
 * beside the writes that follow it (Linux lets writes to a file proceed during its fdatasync);
 * writing waits for it only once another interval has been written meanwhile, which bounds the
 * unsynced data to two intervals and makes a disk slower than the network slow the sender down.
 */
export const snapshotSyncEveryBytes = 64 * 1024 * 1024;

/**
 * Stream `chunks` into `path` (created or emptied), then fdatasync. The data is packed into
 * records of exactly `maxChunkBytes` (the last one may be shorter), whatever the sizes of the
 * incoming chunks: a reader asking for chunks of that size then gets each record's bytes as they
 * lie in its read buffer, uncopied. Returns the number of data bytes written.
 */
export async function writeSnapshotFile(
  disk: DiskIO,
  path: string,
  stored: StoredSnapshot,
  chunks: AsyncIterable<Uint8Array>,
  maxChunkBytes: number,
): Promise<number> {
  const file = await disk.open(path, 'create');
  const out = new DoubleBufferedWriter(
    file,
    Math.max(snapshotWriteBufferBytes, recordHeaderBytes + maxChunkBytes),
  );
  try {
    out.put(RecordType.SnapshotMeta, encode(stored));
    let count = 0;
    let sizeBytes = 0;
    /** Bytes of the data record being filled (0: none open). */
    let open = 0;
    for await (const chunk of chunks) {
      for (let from = 0; from < chunk.byteLength;) {
        if (open === 0) await out.room(recordHeaderBytes + maxChunkBytes);
        const part = chunk.subarray(from, from + maxChunkBytes - open);
        out.fill(open, part);
        open += part.byteLength;
        from += part.byteLength;
        if (open === maxChunkBytes) {
          out.seal(RecordType.SnapshotData, open);
          count++;
          open = 0;
        }
      }
      sizeBytes += chunk.byteLength;
    }
    if (open > 0) {
      out.seal(RecordType.SnapshotData, open);
      count++;
    }
    const end = Buffer.alloc(endPayloadBytes);
    end.writeUInt32LE(count, 0);
    end.writeDoubleLE(sizeBytes, 4);
    await out.room(endRecordBytes);
    out.put(RecordType.SnapshotEnd, end);
    await out.flush();
    await file.datasync();
    return sizeBytes;
  } finally {
    await out.settle().catch(() => undefined); // failed already: the first error is the one thrown
    await file.close();
  }
}

/**
 * Records gathered into one buffer while the other one is being written (at most one write and
 * one fdatasync in flight).
 */
class DoubleBufferedWriter {
  readonly #file: DiskFile;
  #filling: Buffer;
  #spare: Buffer;
  #used = 0;
  #at = 0;
  #inFlight: Promise<void> | null = null;
  /** The periodic fdatasync under way; a failed one stays here until awaited. */
  #syncing: Promise<void> | null = null;
  /** Bytes whose write completed after the last fdatasync started. */
  #unsyncedBytes = 0;

  constructor(file: DiskFile, bufferBytes: number) {
    this.#file = file;
    this.#filling = Buffer.allocUnsafe(bufferBytes);
    this.#spare = Buffer.allocUnsafe(bufferBytes);
  }

  /** Make room for a record of `bytes` (a write of the full buffer may start). */
  async room(bytes: number): Promise<void> {
    if (this.#used + bytes > this.#filling.byteLength) await this.#swap();
  }

  /** Append a record; call `room` for it first (the first record of an empty buffer always fits). */
  put(type: RecordType, payload: Uint8Array): void {
    this.#used = writeRecord(this.#filling, this.#used, type, payload);
  }

  /** Copy `part` into the payload of the record being filled, at payload offset `at`. */
  fill(at: number, part: Uint8Array): void {
    this.#filling.set(part, this.#used + recordHeaderBytes + at);
  }

  /** Complete the record whose `bytes` of payload `fill` wrote: its header and checksum. */
  seal(type: RecordType, bytes: number): void {
    const payloadAt = this.#used + recordHeaderBytes;
    const payload = this.#filling.subarray(payloadAt, payloadAt + bytes);
    writeRecordHeader(this.#filling, this.#used, type, payload);
    this.#used = payloadAt + bytes;
  }

  /** Write everything gathered and wait until every write and fdatasync completed. */
  async flush(): Promise<void> {
    await this.#swap();
    await this.settle();
  }

  /** Wait for the write and the fdatasync in flight, if any; a failure is thrown here. */
  async settle(): Promise<void> {
    const inFlight = this.#inFlight;
    this.#inFlight = null;
    try {
      await inFlight;
    } finally {
      const syncing = this.#syncing;
      this.#syncing = null;
      await syncing;
    }
  }

  /** Start writing the filled buffer (after the previous write completed) and fill the other one. */
  async #swap(): Promise<void> {
    const inFlight = this.#inFlight;
    this.#inFlight = null;
    await inFlight;
    if (this.#used === 0) return;
    const written = this.#write(this.#filling.subarray(0, this.#used), this.#at);
    written.catch(() => undefined); // awaited by the next swap, flush or settle
    this.#inFlight = written;
    this.#at += this.#used;
    [this.#filling, this.#spare] = [this.#spare, this.#filling];
    this.#used = 0;
  }

  async #write(data: Uint8Array, position: number): Promise<void> {
    await this.#file.write(data, position);
    this.#unsyncedBytes += data.byteLength;
    if (this.#unsyncedBytes < snapshotSyncEveryBytes) return;
    if (this.#syncing !== null) {
      // The last sync is still running: let it, unless the disk has fallen a whole interval behind.
      if (this.#unsyncedBytes < 2 * snapshotSyncEveryBytes) return;
      await this.#syncing;
    }
    this.#unsyncedBytes = 0;
    const syncing = this.#file.datasync();
    this.#syncing = syncing;
    // Once done it is forgotten; a failure stays in #syncing for the next write or settle to throw.
    syncing.then(
      () => {
        if (this.#syncing === syncing) this.#syncing = null;
      },
      () => undefined,
    );
  }
}

/** The metadata of the snapshot in `path`, checked against its end record; null when there is none. */
export async function readSnapshotMeta(disk: DiskIO, path: string): Promise<StoredSnapshot | null> {
  const reader = await disk.openRead(path);
  if (reader === null) return null;
  try {
    const first = await readRecordAt(reader, 0, path);
    if (first.type !== RecordType.SnapshotMeta) throw corruptError(path, 0, 'no snapshot metadata record');
    const stored = decodeStored(first, path);
    // The end record holds the true size, whatever the writer declared up front.
    const end = await readEnd(reader, path);
    return { meta: { ...stored.meta, sizeBytes: end.sizeBytes }, epoch: stored.epoch };
  } finally {
    await reader.close();
  }
}

/**
 * The data of the snapshot in `path`, verified chunk by chunk, re-cut into `chunkBytes` pieces
 * (views into the read buffers: copy what you keep).
 */
export async function* readSnapshotChunks(
  disk: DiskIO,
  path: string,
  expected: SnapshotMeta,
  chunkBytes: number,
): AsyncGenerator<Uint8Array> {
  if (!(chunkBytes > 0)) throw new RangeError('chunkBytes must be positive');
  const reader = await disk.openRead(path);
  if (reader === null) throw replacedError(path);
  try {
    const first = await readRecordAt(reader, 0, path);
    const stored = decodeStored(first, path);
    if (stored.meta.index !== expected.index || stored.meta.term !== expected.term) throw replacedError(path);
    const { count } = await readEnd(reader, path);
    const blockBytes = await wholeRecordsBlockBytes(reader, first.next);
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    for await (const record of readRecordsFrom(reader, path, first.next, count, blockBytes)) {
      if (record.type !== RecordType.SnapshotData && record.type !== RecordType.SnapshotChunk)
        throw corruptError(path, record.offset, 'expected a data chunk');
      pending.push(record.payload);
      pendingBytes += record.payload.byteLength;
      while (pendingBytes >= chunkBytes) {
        // Stored and requested chunk sizes usually match: hand the record's bytes out uncopied.
        const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        yield joined.subarray(0, chunkBytes);
        pendingBytes -= chunkBytes;
        pending = pendingBytes > 0 ? [joined.subarray(chunkBytes)] : [];
      }
    }
    if (pendingBytes > 0) yield Buffer.concat(pending);
  } finally {
    await reader.close();
  }
}

/**
 * A read block holding a whole number of data records, judged by the first one (they all have its
 * size but the last): a block that ended inside a record would be read again from that record's
 * start, one record in eight read twice with 1 MiB records in 8 MiB blocks.
 */
async function wholeRecordsBlockBytes(reader: DiskReader, firstData: number): Promise<number> {
  const length = headerLength(await reader.read(firstData, recordHeaderBytes), 0);
  if (length === null) return recordReadBlockBytes; // cut short: readRecordsFrom reports it
  const recordBytes = recordHeaderBytes + length;
  const records = Math.floor(recordReadBlockBytes / recordBytes);
  return records > 0 ? records * recordBytes : recordReadBlockBytes;
}

async function readRecordAt(reader: DiskReader, offset: number, path: string): Promise<ReadRecord> {
  const header = await reader.read(offset, recordHeaderBytes);
  if (header.byteLength < recordHeaderBytes)
    throw corruptError(path, offset, 'the file ends inside a record');
  const len = Buffer.from(header.buffer, header.byteOffset, header.byteLength).readUInt32LE(0);
  if (offset + recordHeaderBytes + len > reader.sizeBytes)
    throw corruptError(path, offset, 'a record runs past the end');
  const bytes = await reader.read(offset, recordHeaderBytes + len);
  const record = readRecord(bytes, 0);
  if (typeof record === 'string') throw corruptError(path, offset, `a record with a ${record}`);
  return { ...record, offset, next: offset + record.next };
}

async function readEnd(reader: DiskReader, path: string): Promise<{ count: number; sizeBytes: number }> {
  const at = reader.sizeBytes - endRecordBytes;
  if (at < 0) throw corruptError(path, 0, 'the file is too short to be a snapshot');
  const end = await readRecordAt(reader, at, path);
  if (end.type !== RecordType.SnapshotEnd || end.payload.byteLength !== endPayloadBytes) {
    throw corruptError(path, at, 'no snapshot end record');
  }
  const view = Buffer.from(end.payload.buffer, end.payload.byteOffset, end.payload.byteLength);
  return { count: view.readUInt32LE(0), sizeBytes: view.readDoubleLE(4) };
}

function decodeStored(record: ReadRecord, path: string): StoredSnapshot {
  let value: unknown;
  try {
    value = decode(record.payload);
  } catch {
    throw corruptError(path, record.offset, 'the snapshot metadata does not decode');
  }
  const v = value as Partial<StoredSnapshot> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    typeof v.epoch !== 'number' ||
    typeof v.meta?.index !== 'number'
  ) {
    throw corruptError(path, record.offset, 'malformed snapshot metadata');
  }
  return v as StoredSnapshot;
}

function replacedError(path: string): SkeinError {
  return new SkeinError(
    StorageErrorCode.SnapshotReplaced,
    `${path} was replaced by a newer snapshot while being opened; open the snapshot again`,
  );
}
