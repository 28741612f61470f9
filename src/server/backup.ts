import { crc32 } from 'node:zlib';
import { RealClock } from '../core/clock.ts';
import { SkeinError } from '../core/errors.ts';
import { inTimeSlices } from '../core/time-slices.ts';

/**
 * The backup file of `skein snapshot save`: a magic, the store revision, the store's snapshot
 * chunks as `[u32 length][bytes]`, then `[u32 0][u32 crc32 of every chunk byte]`. The checksum
 * makes a truncated or damaged copy fail loudly at restore instead of restoring half a store.
 */
const MAGIC = Buffer.from('SKEINKV1', 'ascii');

export function writeBackup(revision: number, chunks: readonly Uint8Array[]): Buffer {
  return Buffer.concat([...backupParts(revision, chunks)]);
}

/** The pieces of a backup of `chunks`, produced as `chunks` is read (it may encode lazily). */
export function* backupParts(
  revision: number,
  chunks: Iterable<Uint8Array>,
): Generator<Buffer, void, undefined> {
  yield Buffer.concat([MAGIC, u64(revision)]);
  let checksum = 0;
  for (const chunk of chunks) {
    yield u32(chunk.byteLength);
    yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    checksum = crc32(chunk, checksum);
  }
  yield Buffer.concat([u32(0), u32(checksum)]);
}

/** Encoding slices of {@link streamBackup}, as in RaftNode's snapshots: the server stays responsive. */
const BACKUP_SLICE_MS = 4;
const realClock = new RealClock();

/**
 * A backup streamed as it is encoded, with a turn of the event loop every few milliseconds, so
 * that backing up a large store does not stall requests and heartbeats. `chunks` must already be
 * a point-in-time capture (CoordinationState.snapshot()).
 */
export function streamBackup(revision: number, chunks: Iterable<Uint8Array>): AsyncGenerator<Buffer> {
  return inTimeSlices(backupParts(revision, chunks), {
    sliceMs: BACKUP_SLICE_MS,
    clock: realClock,
    defer: setImmediate,
  });
}

/** Parse and verify a backup; throws SKEIN_BACKUP_CORRUPT naming what is wrong. */
export function readBackup(data: Uint8Array): { revision: number; chunks: Uint8Array[] } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const corrupt = (what: string): SkeinError =>
    new SkeinError(
      'SKEIN_BACKUP_CORRUPT',
      `not a usable skein backup: ${what}; take a new one with skein snapshot save`,
    );
  if (buf.byteLength < 16 || !buf.subarray(0, 8).equals(MAGIC)) throw corrupt('bad magic');
  const revision = Number(buf.readBigUInt64BE(8));
  const chunks: Uint8Array[] = [];
  let offset = 16;
  let checksum = 0;
  for (;;) {
    if (offset + 4 > buf.byteLength) throw corrupt('truncated');
    const length = buf.readUInt32BE(offset);
    offset += 4;
    if (length === 0) break;
    if (offset + length > buf.byteLength) throw corrupt('truncated chunk');
    const chunk = buf.subarray(offset, offset + length);
    checksum = crc32(chunk, checksum);
    chunks.push(chunk);
    offset += length;
  }
  if (offset + 4 !== buf.byteLength) throw corrupt('trailing bytes or missing checksum');
  if (buf.readUInt32BE(offset) !== checksum) throw corrupt('checksum mismatch');
  return { revision, chunks };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}
