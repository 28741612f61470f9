import { KeyIndex, type History } from './key-index.ts';
import type { MemberPublishCommand } from './validate.ts';
import type { KeyValue } from './types.ts';

/** A lease as the state machine keeps it: expiry is the server leader's business, not ours. */
export interface LeaseState {
  readonly id: number;
  readonly grantedTtlSeconds: number;
  /** Live keys attached to it. */
  readonly keys: Set<string>;
}

/**
 * Everything a KvStore replicates, in one object so that restore can swap it whole.
 *
 * Each key has its history as an array of versions, oldest first (the KeyValue objects are shared
 * with responses and events and never mutated). A delete appends a tombstone: a KeyValue with
 * version 0, an empty value, createRevision 0 and lease 0 — exactly the `kv` of etcd's delete event.
 * A key stays in `keys` and `order` while it has any history, so historical reads still find it after a delete.
 */
export class KvState {
  revision = 1;
  compactRevision = 0;
  nextLeaseId = 1;
  liveKeys = 0;
  readonly keys = new Map<string, History>();
  /** The same histories in key order. */
  order = new KeyIndex();
  /** Every write with modRevision > compactRevision, in the order applied (a txn's in op order). */
  log: KeyValue[] = [];
  readonly leases = new Map<number, LeaseState>();
  readonly members: MemberPublishCommand[] = [];
}

/** A tombstone is the version a delete appends. */
export function isTombstone(kv: KeyValue): boolean {
  return kv.version === 0;
}

export function tombstone(key: string, revision: number): KeyValue {
  return { key, value: '', createRevision: 0, modRevision: revision, version: 0, lease: 0 };
}

/** The live latest version, or undefined when the key is deleted. */
export function latest(versions: readonly KeyValue[]): KeyValue | undefined {
  const last = versions[versions.length - 1];
  return last === undefined || last.version === 0 ? undefined : last;
}

/** Index of the last version with modRevision ≤ `revision` (-1 when none). */
export function indexAt(versions: readonly KeyValue[], revision: number): number {
  let lo = 0;
  let hi = versions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (versions[mid]!.modRevision <= revision) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** The key's live version as of `revision`, or undefined when it did not exist then. */
export function versionAt(versions: readonly KeyValue[], revision: number): KeyValue | undefined {
  const last = versions[versions.length - 1];
  if (last !== undefined && last.modRevision <= revision) return last.version === 0 ? undefined : last;
  const kv = versions[indexAt(versions, revision)];
  return kv === undefined || kv.version === 0 ? undefined : kv;
}

/** The live version just before the version at `index` (prevKv of that write), if history has it. */
export function previousLive(versions: readonly KeyValue[], index: number): KeyValue | undefined {
  const prev = index > 0 ? versions[index - 1] : undefined;
  return prev === undefined || prev.version === 0 ? undefined : prev;
}
