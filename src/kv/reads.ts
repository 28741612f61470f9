import { kvError, KvErrorCode } from './errors.ts';
import { isSingleKey, RANGE_END_ALL, selects } from './selector.ts';
import type { History } from './key-index.ts';
import { indexAt, previousLive, versionAt, type KvState } from './state.ts';
import type { KeySelector, KeyValue, RangeRequest, WatchEvent } from './types.ts';

/** What a range found, before the caller stamps its revision. */
export interface RangeResult {
  readonly kvs: KeyValue[];
  readonly count: number;
  readonly more: boolean;
}

/** Reject a historical read the store cannot serve (etcd's checks, before anything runs). */
export function checkReadRevision(state: KvState, revision: number): void {
  if (revision > state.revision) {
    const what = `revision ${revision} is newer than the store's revision ${state.revision}`;
    throw kvError(KvErrorCode.FutureRevision, what, { revision: state.revision });
  }
  if (revision > 0 && revision < state.compactRevision) {
    const what = `revision ${revision} is below the compaction point ${state.compactRevision}`;
    throw kvError(KvErrorCode.Compacted, what, { compactRevision: state.compactRevision });
  }
}

/**
 * Visit the histories of the keys a selector can select, in order, until `visit` returns false. Keys whose whole
 * history is outside the selected range never reach `visit`; deleted keys still do.
 */
export function scanSelected(
  state: KvState,
  selector: KeySelector,
  visit: (history: History) => boolean,
): void {
  const start = selector.key;
  if (selector.prefix === true) {
    state.order.scan(start, (history) => history[0]!.key.startsWith(start) && visit(history));
    return;
  }
  const end = selector.rangeEnd;
  if (end === undefined) {
    const history = state.keys.get(start);
    if (history !== undefined) visit(history);
    return;
  }
  if (end === RANGE_END_ALL) {
    state.order.scan(start, visit);
    return;
  }
  const compare = state.order.compareFor(end);
  state.order.scan(start, (history) => compare(history[0]!.key, end) < 0 && visit(history));
}

/** Serve a range as of `revision` (the state's latest versions when `revision` is its current one). */
export function rangeAt(state: KvState, request: RangeRequest, revision: number): RangeResult {
  const limit = request.limit ?? 0;
  const countOnly = request.countOnly === true;
  const keysOnly = request.keysOnly === true;
  const kvs: KeyValue[] = [];
  let count = 0;
  scanSelected(state, request, (versions) => {
    // Not latest(): inside a txn the latest versions may be the txn's own, newer than `revision`.
    const kv = versionAt(versions, revision);
    if (kv === undefined) return true;
    count++;
    if (!countOnly && (limit === 0 || kvs.length < limit)) kvs.push(keysOnly ? { ...kv, value: '' } : kv);
    return true;
  });
  return { kvs, count, more: !countOnly && limit > 0 && count > limit };
}

/** See KvStore.eventsSince. */
export function eventsSince(
  state: KvState,
  selector: KeySelector,
  fromRevision: number,
  withPrevKv: boolean,
  maxEvents: number,
): { events: WatchEvent[]; throughRevision: number } {
  if (fromRevision > 0 && fromRevision <= state.compactRevision) {
    const what = `events from revision ${fromRevision} were compacted (history starts after ${state.compactRevision})`;
    throw kvError(KvErrorCode.Compacted, what, { compactRevision: state.compactRevision });
  }
  const start = Math.max(fromRevision, state.compactRevision + 1);
  const events: WatchEvent[] = [];
  // A single key's events are its history: no need to walk every write.
  const ownHistory = isSingleKey(selector);
  const source: readonly KeyValue[] = ownHistory ? (state.keys.get(selector.key) ?? []) : state.log;
  let full = false;
  for (let i = firstAtOrAfter(source, start); i < source.length; i++) {
    const kv = source[i]!;
    if (!ownHistory && !selects(selector, kv.key)) continue;
    // Past the limit, the next selected write ends the batch: everything before it is covered.
    if (full && kv.modRevision !== events[events.length - 1]!.kv.modRevision) {
      return { events, throughRevision: kv.modRevision - 1 };
    }
    events.push(toEvent(state, kv, withPrevKv));
    full = events.length >= maxEvents;
  }
  return { events, throughRevision: state.revision };
}

/** The watch event for a write, with the previous live version when asked and history has it. */
export function toEvent(state: KvState, kv: KeyValue, withPrevKv: boolean): WatchEvent {
  const type = kv.version === 0 ? 'delete' : 'put';
  if (!withPrevKv) return { type, kv };
  const versions = state.keys.get(kv.key)!;
  const prevKv = previousLive(versions, indexAt(versions, kv.modRevision));
  return prevKv === undefined ? { type, kv } : { type, kv, prevKv };
}

/** Index of the first write with modRevision ≥ `revision` in a list ordered by modRevision. */
function firstAtOrAfter(list: readonly KeyValue[], revision: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.modRevision < revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
