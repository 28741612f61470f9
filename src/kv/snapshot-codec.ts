import { decode, encode } from '../core/codec.ts';
import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import { SortedKeys } from './sorted-keys.ts';
import { indexAt, KvState } from './state.ts';
import type { KeyValue } from './types.ts';

/**
 * Snapshot format (version 1): a stream of frames, each a big-endian u32 length and one msgpack
 * value, so that any re-chunking in transit or on disk is harmless:
 *
 *   ['skein-kv', 1, revision, compactRevision, nextLeaseId, keys, logLength, leases, [member fields...]]
 *   ['l', [id, grantedTtlSeconds, ...]]                            leases, in grant order
 *   ['k', [key, n, (value, createRevision, modRevision, version, lease) × n, ...]]   key order
 *   ['o', [key index, ...]]      the write log: which key each write after compactRevision touched,
 *                                in apply order (a key's writes are its versions, oldest first)
 *   ['end', keys, logLength, leases]
 *
 * Everything is written in a deterministic order, so equal states give equal bytes.
 */
const FORMAT = 'skein-kv';
const FORMAT_VERSION = 1;
/** Records are cut into frames of about this many bytes: bounded memory per frame on both sides. */
const FRAME_TARGET_BYTES = 256 * 1024;
/** A length above this is corruption, not a frame we wrote. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const INTS_PER_FRAME = 32 * 1024;
const FIELDS_PER_VERSION = 5;

export function writeSnapshot(s: KvState): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const members = s.members.flatMap((m) => [m.id, m.name, m.clientUrl]);
  frames.push(
    frame([
      FORMAT,
      FORMAT_VERSION,
      s.revision,
      s.compactRevision,
      s.nextLeaseId,
      s.keys.size,
      s.log.length,
      s.leases.size,
      members,
    ]),
  );
  let ints: number[] = [];
  for (const lease of s.leases.values()) {
    ints.push(lease.id, lease.grantedTtlSeconds);
    if (ints.length >= INTS_PER_FRAME) ints = flush(frames, 'l', ints);
  }
  if (ints.length > 0) ints = flush(frames, 'l', ints);

  // Only the log needs key indices; skip the map when there is no log to describe.
  const indexOf = s.log.length > 0 ? new Map<string, number>() : null;
  let record: unknown[] = [];
  let bytes = 0;
  let index = 0;
  for (const key of s.order) {
    const versions = s.keys.get(key)!;
    indexOf?.set(key, index++);
    record.push(key, versions.length);
    bytes += key.length + 8;
    for (const kv of versions) {
      record.push(kv.value, kv.createRevision, kv.modRevision, kv.version, kv.lease);
      bytes += kv.value.length + 24;
    }
    if (bytes >= FRAME_TARGET_BYTES) {
      record = flush(frames, 'k', record);
      bytes = 0;
    }
  }
  if (record.length > 0) flush(frames, 'k', record);
  if (indexOf !== null) {
    for (const kv of s.log) {
      ints.push(indexOf.get(kv.key)!);
      if (ints.length >= INTS_PER_FRAME) ints = flush(frames, 'o', ints);
    }
    if (ints.length > 0) flush(frames, 'o', ints);
  }
  frames.push(frame(['end', s.keys.size, s.log.length, s.leases.size]));
  return frames;
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

function frame(value: unknown): Uint8Array {
  const body = encode(value);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

function flush<T>(frames: Uint8Array[], tag: string, items: T[]): T[] {
  frames.push(frame([tag, items]));
  return [];
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
  readonly #sortedKeys: string[] = [];
  /** Per key (by index), the next version the log has not consumed yet (-1: not located yet). */
  #cursors: Int32Array = new Int32Array(0);

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
    else if (tag === 'o') this.#readLog(items);
    else throw corrupt(`unknown frame ${String(tag)}`);
  }

  finish(): KvState {
    if (!this.#ended) throw corrupt('it ends before its end frame (truncated)');
    const s = this.#s;
    s.order = SortedKeys.fromSorted(this.#sortedKeys);
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
    if (!Array.isArray(members) || members.length % 3 !== 0) throw corrupt('members');
    for (let i = 0; i < members.length; i += 3) {
      s.members.push({ id: str(members[i]), name: str(members[i + 1]), clientUrl: str(members[i + 2]) });
    }
    this.#cursors = new Int32Array(this.#expected.keys).fill(-1);
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
    let i = 0;
    while (i < items.length) {
      const key = str(items[i]);
      const n = int(items[i + 1]);
      i += 2;
      if (n === 0 || i + n * FIELDS_PER_VERSION > items.length) throw corrupt(`versions of ${key}`);
      const versions: KeyValue[] = new Array<KeyValue>(n);
      for (let v = 0; v < n; v++, i += FIELDS_PER_VERSION) {
        versions[v] = {
          key,
          value: str(items[i]),
          createRevision: int(items[i + 1]),
          modRevision: int(items[i + 2]),
          version: int(items[i + 3]),
          lease: int(items[i + 4]),
        };
      }
      const last = versions[n - 1]!;
      if (last.version > 0) {
        s.liveKeys++;
        if (last.lease !== 0) {
          const lease = s.leases.get(last.lease);
          if (lease === undefined) throw corrupt(`key ${key} is attached to missing lease ${last.lease}`);
          lease.keys.add(key);
        }
      }
      if (s.keys.has(key)) throw corrupt(`key ${key} twice`);
      s.keys.set(key, versions);
      this.#sortedKeys.push(key);
    }
  }

  #readLog(items: unknown[]): void {
    const s = this.#s;
    const keys = this.#sortedKeys;
    const cursors = this.#cursors;
    let last = s.log.length > 0 ? s.log[s.log.length - 1]!.modRevision : s.compactRevision + 1;
    for (const item of items) {
      const k = int(item);
      const versions = k < keys.length ? s.keys.get(keys[k]!)! : undefined;
      if (versions === undefined) throw corrupt(`log names key index ${k}`);
      let at = cursors[k]!;
      if (at < 0) at = indexAt(versions, s.compactRevision) + 1;
      const kv = versions[at];
      if (kv === undefined || kv.modRevision < last || kv.modRevision > s.revision)
        throw corrupt('log order');
      cursors[k] = at + 1;
      last = kv.modRevision;
      s.log.push(kv);
    }
  }

  #readEnd(value: unknown[]): void {
    const s = this.#s;
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

function int(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw corrupt(`${String(v)} is not a count`);
  return v;
}

function str(v: unknown): string {
  if (typeof v !== 'string') throw corrupt(`${String(v)} is not a string`);
  return v;
}
