import type { DiskReader } from './disk.ts';
import { corruptError } from './errors.ts';
import { readRecord, recordHeaderBytes, type ReadRecord } from './wal-record.ts';

/**
 * Size of one read of {@link readRecordsFrom}. Big, sequential reads with the next one already
 * under way: a gigabyte snapshot streams at disk (or page cache) speed instead of paying two
 * thread-pool round trips per record.
 */
export const recordReadBlockBytes = 8 * 1024 * 1024;

/**
 * The `count` records of `reader` that follow one another from byte `from`, each checked against
 * its CRC, read in blocks of `blockBytes` (a larger record gets a read of its own) with the next
 * block read ahead. Memory: the block being parsed and the one read ahead. Payloads are views into
 * the blocks. Throws SKEIN_STORAGE_CORRUPT (naming `path` and the record's offset) on a damaged or
 * truncated record.
 */
export async function* readRecordsFrom(
  reader: DiskReader,
  path: string,
  from: number,
  count: number,
  blockBytes = recordReadBlockBytes,
): AsyncGenerator<ReadRecord> {
  let block: Uint8Array = new Uint8Array(0);
  let blockStart = from;
  let ahead: { at: number; read: Promise<Uint8Array> } | null = null;
  const load = (at: number, bytes: number): Promise<Uint8Array> =>
    reader.read(at, Math.max(0, Math.min(bytes, reader.sizeBytes - at)));
  // A block always holds at least a header, so that a larger record is seen and read whole.
  const minBlockBytes = Math.max(blockBytes, recordHeaderBytes);
  let offset = from;
  try {
    for (let i = 0; i < count; i++) {
      if (recordEnd(block, offset - blockStart) === null) {
        block = await (ahead?.at === offset ? ahead.read : load(offset, minBlockBytes));
        blockStart = offset;
        ahead = null;
        const len = headerLength(block, 0);
        // A record larger than a block: read it whole (bounded by the file's size).
        if (len !== null && recordHeaderBytes + len > block.byteLength)
          block = await load(offset, recordHeaderBytes + len);
        ahead = readAhead(block, blockStart, i < count - 1, load, minBlockBytes);
      }
      const at = offset - blockStart;
      const record = readRecord(block, at);
      if (typeof record === 'string') {
        if (record !== 'short') throw corruptError(path, offset, `a record with a ${record}`);
        const what =
          at + recordHeaderBytes > block.byteLength
            ? 'the file ends inside a record'
            : 'a record runs past the end';
        throw corruptError(path, offset, what);
      }
      const next = offset + (record.next - at);
      yield { ...record, offset, next };
      offset = next;
    }
  } finally {
    ahead?.read.catch(() => undefined); // not needed any more; its failure does not matter
  }
}

/** The payload length in the header at `at`, or null when the header is not all in `block`. */
export function headerLength(block: Uint8Array, at: number): number | null {
  if (at + recordHeaderBytes > block.byteLength) return null;
  return (block[at]! | (block[at + 1]! << 8) | (block[at + 2]! << 16) | (block[at + 3]! << 24)) >>> 0;
}

/** Where the record at `at` ends when it lies wholly inside `block`, else null. */
function recordEnd(block: Uint8Array, at: number): number | null {
  const len = headerLength(block, at);
  if (len === null || at + recordHeaderBytes + len > block.byteLength) return null;
  return at + recordHeaderBytes + len;
}

/** Start reading the block after the last record that lies wholly inside `block`. */
function readAhead(
  block: Uint8Array,
  blockStart: number,
  more: boolean,
  load: (at: number, bytes: number) => Promise<Uint8Array>,
  blockBytes: number,
): { at: number; read: Promise<Uint8Array> } | null {
  if (!more) return null;
  let at = 0;
  for (let end = recordEnd(block, at); end !== null; end = recordEnd(block, at)) at = end;
  const len = headerLength(block, at);
  const bytes = Math.max(blockBytes, len === null ? 0 : recordHeaderBytes + len);
  const read = load(blockStart + at, bytes);
  read.catch(() => undefined); // awaited when reached; a read not reached must not be unhandled
  return { at: blockStart + at, read };
}
