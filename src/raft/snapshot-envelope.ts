import { decode, encode } from '../core/codec.ts';
import { SkeinError } from '../core/errors.ts';

/**
 * What RaftNode stores in a snapshot around the user's state: `[magic "SKRS"][u32 header
 * length][msgpack header][user bytes...]`. The header carries the driver's own replicated state,
 * today the window of recently applied request ids. That window decides whether a duplicated
 * proposal is applied or skipped, so it must be part of the snapshot: a member that installed a
 * snapshot (or restarted from one) with an empty window would apply a duplicate that every other
 * member skipped, and the replicas would diverge.
 */
const MAGIC = Buffer.from('SKRS', 'ascii');
const PREFIX_BYTES = 8;
/** Far above any real header (100k request ids ≈ 3 MB); a larger one is a corrupt snapshot. */
const MAX_HEADER_BYTES = 256 << 20;

export interface SnapshotHeader {
  /** Recently applied request ids, oldest first. */
  readonly recentRequests: readonly string[];
}

/** The user's chunks behind the driver's header. */
export async function* wrapSnapshot(
  header: SnapshotHeader,
  user: AsyncIterable<Uint8Array>,
): AsyncIterable<Uint8Array> {
  const body = encode(header);
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32BE(body.byteLength, 4);
  yield Buffer.concat([prefix, body]);
  yield* user;
}

/**
 * Split a stored snapshot into the driver's header and the user's chunks. A snapshot written
 * before the envelope existed has no magic: it is all user data and the header is empty.
 */
export async function unwrapSnapshot(
  chunks: AsyncIterable<Uint8Array>,
): Promise<{ header: SnapshotHeader; user: AsyncIterable<Uint8Array> }> {
  const iterator = chunks[Symbol.asyncIterator]();
  let buffered = Buffer.alloc(0);
  const need = async (bytes: number): Promise<boolean> => {
    while (buffered.byteLength < bytes) {
      const next = await iterator.next();
      if (next.done === true) return false;
      buffered = Buffer.concat([buffered, next.value]);
    }
    return true;
  };
  const rest = async function* (leftover: Buffer): AsyncIterable<Uint8Array> {
    if (leftover.byteLength > 0) yield leftover;
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return;
      yield next.value;
    }
  };
  if (!(await need(PREFIX_BYTES)) || !buffered.subarray(0, 4).equals(MAGIC)) {
    return { header: { recentRequests: [] }, user: rest(buffered) };
  }
  const length = buffered.readUInt32BE(4);
  if (length > MAX_HEADER_BYTES || !(await need(PREFIX_BYTES + length))) {
    throw new SkeinError(
      'SKEIN_SNAPSHOT_CORRUPT',
      'the snapshot header is truncated; the snapshot cannot be used',
    );
  }
  const header = decode(buffered.subarray(PREFIX_BYTES, PREFIX_BYTES + length)) as Partial<SnapshotHeader>;
  const ids = header.recentRequests;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
    throw new SkeinError(
      'SKEIN_SNAPSHOT_CORRUPT',
      'the snapshot header is malformed; the snapshot cannot be used',
    );
  }
  return { header: { recentRequests: ids }, user: rest(buffered.subarray(PREFIX_BYTES + length)) };
}
