import { decode, encode } from '../core/codec.ts';
import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import { KeyIndex, type History } from './key-index.ts';
import { indexAt, KvState } from './state.ts';
import type { KeyValue } from './types.ts';

/**
 * Snapshot format (version 1): a stream of frames, each a big-endian u32 length and one msgpack
 * value, so that any re-chunking in transit or on disk is harmless:
 *
 *   ['skein-kv', 1, revision, compactRevision, nextLeaseId, keys, logLength, leases, [member fields...]]
 *   ['l', [id, grantedTtlSeconds, ...]]                            leases, in grant order
 *   ['k', [key, n, (value, createRevision, modRevision, version, lease) × n, ...]]   in key order
 *   ['m', [revision, n, key index × n, ...]]   the write order of each revision that wrote
 *                                              several keys (a txn, a range delete, a lease revoke)
 *   ['end', keys, logLength, leases]
 *
 * The write log is not stored: every revision after compactRevision wrote at least one key, so
 * the versions newer than compactRevision, bucketed by revision, are the log — only the order
 * inside multi-write revisions needs spelling out. Everything is written in a deterministic order,
 * so equal states give equal bytes.
 */
const FORMAT = 'skein-kv';
const FORMAT_VERSION = 1;
/** Records are cut into frames of about this many bytes: bounded memory per frame on both sides. */
const FRAME_TARGET_BYTES = 256 * 1024;
/** A length above this is corruption, not a frame we wrote. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const INTS_PER_FRAME = 32 * 1024;
const FIELDS_PER_VERSION = 5;

/**
 * What a snapshot holds, copied out of the state: pointer copies only (the KeyValue objects are
 * immutable), 20–40 ms for 100,000 keys with 200,000 versions, where encoding them takes
 * 170–700 ms. Writes and compactions applied afterwards do not touch it, so it can be encoded
 * later, a frame at a time.
 */
export interface SnapshotCapture {
  readonly header: readonly unknown[];
  readonly counts: readonly number[];
  /** Lease ids and granted TTLs, interleaved. */
  readonly leases: readonly number[];
  /** Each key's versions, in key order. */
  readonly histories: readonly (readonly KeyValue[])[];
  readonly log: readonly KeyValue[];
}

/** Take a point-in-time {@link SnapshotCapture} of `s`, in O(versions). */
export function captureSnapshot(s: KvState): SnapshotCapture {
  const members = s.members.flatMap((m) => [m.id, m.name, m.clientUrl]);
  const counts = [s.keys.size, s.log.length, s.leases.size];
  const leases: number[] = [];
  for (const lease of s.leases.values()) leases.push(lease.id, lease.grantedTtlSeconds);
  const histories: KeyValue[][] = [];
  // A copy per key: compaction trims histories in place, and writes append to them.
  for (const history of s.order) histories.push(history.slice());
  return {
    header: [FORMAT, FORMAT_VERSION, s.revision, s.compactRevision, s.nextLeaseId, ...counts, members],
    counts,
    leases,
    histories,
    log: s.log.slice(),
  };
}

/** The whole state as frames, encoded now. */
export function writeSnapshot(s: KvState): Uint8Array[] {
  return [...encodeSnapshot(captureSnapshot(s))];
}

/**
 * Encode a capture lazily: each frame is built when the consumer asks for it, so a large state is
 * written out in slices instead of blocking the event loop for the whole encoding.
 */
export function* encodeSnapshot(c: SnapshotCapture): Generator<Uint8Array, void, undefined> {
  yield encodeFrame(c.header);
  for (let i = 0; i < c.leases.length; i += INTS_PER_FRAME)
    yield frame('l', c.leases.slice(i, i + INTS_PER_FRAME));
  const indexOf = multiWriteKeys(c.log);
  let record: unknown[] = [];
  let bytes = 0;
  let index = 0;
  for (const history of c.histories) {
    const key = history[0]!.key;
    if (indexOf?.has(key) === true) indexOf.set(key, index);
    index++;
    record.push(key, history.length);
    bytes += key.length + 8;
    for (const kv of history) {
      record.push(kv.value, kv.createRevision, kv.modRevision, kv.version, kv.lease);
      bytes += kv.value.length + 24;
    }
    if (bytes >= FRAME_TARGET_BYTES) {
      yield frame('k', record);
      record = [];
      bytes = 0;
    }
  }
  if (record.length > 0) yield frame('k', record);
  if (indexOf !== null) yield* multiWriteOrderFrames(c.log, indexOf);
  yield encodeFrame(['end', ...c.counts]);
}

/** Keys written in revisions that wrote several keys, or null when there are none (the usual case). */
function multiWriteKeys(log: readonly KeyValue[]): Map<string, number> | null {
  let keys: Map<string, number> | null = null;
  for (let i = 1; i < log.length; i++) {
    if (log[i]!.modRevision !== log[i - 1]!.modRevision) continue;
    keys ??= new Map();
    keys.set(log[i - 1]!.key, -1);
    keys.set(log[i]!.key, -1);
  }
  return keys;
}

function* multiWriteOrderFrames(
  log: readonly KeyValue[],
  indexOf: Map<string, number>,
): Generator<Uint8Array, void, undefined> {
  let ints: number[] = [];
  for (let i = 0; i < log.length;) {
    let end = i + 1;
    while (end < log.length && log[end]!.modRevision === log[i]!.modRevision) end++;
    if (end - i > 1) {
      ints.push(log[i]!.modRevision, end - i);
      for (let j = i; j < end; j++) ints.push(indexOf.get(log[j]!.key)!);
      if (ints.length >= INTS_PER_FRAME) {
        yield frame('m', ints);
        ints = [];
      }
    }
    i = end;
  }
  if (ints.length > 0) yield frame('m', ints);
}

/** Read a snapshot written by {@link writeSnapshot} into a new state; throws SKEIN_DECODE_FAILED on anything else. */
export async function readSnapshot(chunks: AsyncIterable<Uint8Array>): Promise<KvState> {
  const builder = new StateBuilder();
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of chunks) {
    pending =
      pending.length === 0
        ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        : Buffer.concat([pending, chunk]);
    let at = 0;
    while (pending.length - at >= 4) {
      const length = pending.readUInt32BE(at);
      if (length > MAX_FRAME_BYTES) throw corrupt(`a frame claims ${length} bytes`);
      if (pending.length - at - 4 < length) break;
      builder.add(decode(pending.subarray(at + 4, at + 4 + length)));
      at += 4 + length;
    }
    pending = pending.subarray(at);
  }
  if (pending.length > 0) throw corrupt(`${pending.length} bytes after the last whole frame`);
  return builder.finish();
}

/** One snapshot frame: a big-endian u32 length, then `value` as msgpack. */
export function encodeFrame(value: unknown): Uint8Array {
  const body = encode(value);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

function frame(tag: string, items: readonly unknown[]): Uint8Array {
  return encodeFrame([tag, items]);
}

function corrupt(what: string): SkeinError {
  return new SkeinError(CoreErrorCode.DecodeFailed, `not a valid skein-kv snapshot: ${what}`);
}

/** Rebuilds a KvState frame by frame, checking the structure as it goes. */
class StateBuilder {
  readonly #s = new KvState();
  #header = false;
  #ended = false;
  #expected = { keys: 0, log: 0, leases: 0 };
  readonly #sorted: History[] = [];
  /** The write of each revision after compactRevision (the first one seen, for multi-write ones). */
  #byRevision: (KeyValue | undefined)[] = [];
  readonly #multiWrite = new Map<number, KeyValue[]>();

  add(value: unknown): void {
    if (!Array.isArray(value) || this.#ended) throw corrupt('unexpected frame');
    if (!this.#header) {
      this.#readHeader(value);
      return;
    }
    const [tag, items] = value as [unknown, unknown];
    if (!Array.isArray(items)) {
      if (tag !== 'end') throw corrupt(`frame ${String(tag)} has no items`);
      this.#readEnd(value);
      return;
    }
    if (tag === 'l') this.#readLeases(items);
    else if (tag === 'k') this.#readKeys(items);
    else if (tag === 'm') this.#readMultiWrite(items);
    else throw corrupt(`unknown frame ${String(tag)}`);
  }

  finish(): KvState {
    if (!this.#ended) throw corrupt('it ends before its end frame (truncated)');
    const s = this.#s;
    s.order = KeyIndex.fromSorted(this.#sorted);
    return s;
  }

  #readHeader(value: unknown[]): void {
    const [format, version, revision, compactRevision, nextLeaseId, keys, log, leases, members] = value;
    if (format !== FORMAT || version !== FORMAT_VERSION)
      throw corrupt(`format ${String(format)} ${String(version)}`);
    const s = this.#s;
    s.revision = int(revision);
    s.compactRevision = int(compactRevision);
    s.nextLeaseId = int(nextLeaseId);
    this.#expected = { keys: int(keys), log: int(log), leases: int(leases) };
    // Every revision after the compaction point (and after 1, where a store starts) wrote at
    // least once, so this is bounded by the log length.
    const revisions = s.revision - firstLoggedRevision(s) + 1;
    if (revisions < 0 || revisions > this.#expected.log) throw corrupt('revisions and log length disagree');
    this.#byRevision = new Array<KeyValue | undefined>(revisions);
    if (!Array.isArray(members) || members.length % 3 !== 0) throw corrupt('members');
    for (let i = 0; i < members.length; i += 3) {
      s.members.push({ id: str(members[i]), name: str(members[i + 1]), clientUrl: str(members[i + 2]) });
    }
    this.#header = true;
  }

  #readLeases(items: unknown[]): void {
    for (let i = 0; i < items.length; i += 2) {
      const id = int(items[i]);
      this.#s.leases.set(id, { id, grantedTtlSeconds: int(items[i + 1]), keys: new Set() });
    }
  }

  #readKeys(items: unknown[]): void {
    const s = this.#s;
    const byRevision = this.#byRevision;
    const base = firstLoggedRevision(s);
    let i = 0;
    while (i < items.length) {
      const key = str(items[i]);
      const n = int(items[i + 1]);
      i += 2;
      if (n === 0 || i + n * FIELDS_PER_VERSION > items.length) throw corrupt(`versions of ${key}`);
      const history: History = new Array<KeyValue>(n);
      for (let v = 0; v < n; v++, i += FIELDS_PER_VERSION) {
        const kv: KeyValue = {
          key,
          value: str(items[i]),
          createRevision: int(items[i + 1]),
          modRevision: int(items[i + 2]),
          version: int(items[i + 3]),
          lease: int(items[i + 4]),
        };
        history[v] = kv;
        const slot = kv.modRevision - base;
        if (slot >= byRevision.length) throw corrupt(`${key} has a version newer than the store`);
        if (slot >= 0) byRevision[slot] ??= kv;
      }
      this.#addKey(key, history);
    }
  }

  #addKey(key: string, history: History): void {
    const s = this.#s;
    const last = history[history.length - 1]!;
    if (last.version > 0) {
      s.liveKeys++;
      if (last.lease !== 0) {
        const lease = s.leases.get(last.lease);
        if (lease === undefined) throw corrupt(`key ${key} is attached to missing lease ${last.lease}`);
        lease.keys.add(key);
      }
    }
    const size = s.keys.size;
    s.keys.set(key, history); // one hash lookup: a duplicate shows as a size that did not grow
    if (s.keys.size === size) throw corrupt(`key ${key} twice`);
    this.#sorted.push(history);
  }

  #readMultiWrite(items: unknown[]): void {
    for (let i = 0; i < items.length;) {
      const revision = int(items[i]);
      const n = int(items[i + 1]);
      i += 2;
      const writes: KeyValue[] = [];
      for (const end = i + n; i < end; i++) {
        const history = this.#sorted[int(items[i])];
        const kv = history?.[indexAt(history, revision)];
        if (kv?.modRevision !== revision) throw corrupt(`revision ${revision} names a key it did not write`);
        writes.push(kv);
      }
      this.#multiWrite.set(revision, writes);
    }
  }

  #readEnd(value: unknown[]): void {
    const s = this.#s;
    for (let r = 0; r < this.#byRevision.length; r++) {
      const revision = firstLoggedRevision(s) + r;
      const writes = this.#multiWrite.get(revision);
      if (writes !== undefined) s.log.push(...writes);
      else if (this.#byRevision[r] !== undefined) s.log.push(this.#byRevision[r]!);
      else throw corrupt(`revision ${revision} has no write`);
    }
    this.#byRevision = [];
    const [, keys, log, leases] = value;
    const e = this.#expected;
    const counts = [s.keys.size, s.log.length, s.leases.size];
    if (
      keys !== e.keys ||
      log !== e.log ||
      leases !== e.leases ||
      counts.join() !== [keys, log, leases].join()
    ) {
      throw corrupt(`counts ${counts.join('/')} instead of ${[e.keys, e.log, e.leases].join('/')}`);
    }
    this.#ended = true;
  }
}

/** The oldest revision the write log holds: revision 1 is a fresh store's, with no write. */
function firstLoggedRevision(s: KvState): number {
  return Math.max(s.compactRevision, 1) + 1;
}

function int(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw corrupt(`${String(v)} is not a count`);
  return v;
}

function str(v: unknown): string {
  if (typeof v !== 'string') throw corrupt(`${String(v)} is not a string`);
  return v;
}
