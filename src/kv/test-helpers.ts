import assert from 'node:assert/strict';
import { hasCode } from '../core/errors.ts';
import type { KvLimits } from './limits.ts';
import { KvStore } from './store.ts';
import type {
  CompactResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseGrantResponse,
  LeaseRevokeResponse,
  PutResponse,
  TxnRequest,
  TxnResponse,
} from './types.ts';

/** A store and typed shortcuts to its processors, as tests use them. */
export function kv(limits: Partial<KvLimits> = {}) {
  const store = new KvStore({ limits });
  const p = store.processors();
  const call = (action: string, params: unknown): unknown => p[action]!(params);
  return {
    store,
    call,
    put: (key: string, value: string, extra: { lease?: number; prevKv?: boolean } = {}) =>
      call('put', { key, value, ...extra }) as PutResponse,
    del: (request: DeleteRangeRequest) => call('delete-range', request) as DeleteRangeResponse,
    txn: (request: Partial<TxnRequest>) =>
      call('txn', { compare: [], success: [], failure: [], ...request }) as TxnResponse,
    grant: (ttlSeconds: number, id?: number) =>
      call('lease-grant', id === undefined ? { ttlSeconds } : { ttlSeconds, id }) as LeaseGrantResponse,
    revoke: (id: number, expired?: boolean) =>
      call('lease-revoke', expired === undefined ? { id } : { id, expired }) as LeaseRevokeResponse,
    compact: (revision: number) => call('compact', { revision }) as CompactResponse,
    get: (key: string, revision?: number) =>
      store.range(revision === undefined ? { key } : { key, revision }).kvs[0],
  };
}

/** Assert that `fn` throws a SkeinError with `code` (and a message matching `message`, if given). */
export function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(hasCode(error, code), `expected ${code}, got ${String(error)}`);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

/** All snapshot bytes concatenated: equal states give equal bytes. */
export function snapshotBytes(store: KvStore): Buffer {
  return Buffer.concat(store.snapshot());
}

export async function* chunksOf(parts: readonly Uint8Array[], size = 0): AsyncIterable<Uint8Array> {
  await Promise.resolve();
  if (size === 0) {
    yield* parts;
    return;
  }
  const all = Buffer.concat(parts);
  for (let i = 0; i < all.length; i += size) yield all.subarray(i, i + size);
}
