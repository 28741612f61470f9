/**
 * Conversions between skein's data model (src/kv/types.ts) and etcd's gRPC messages as the etcd3
 * package exposes them: int64 fields arrive as decimal strings, keys and values as Buffers.
 */
import type { ICompare, IKeyValue, IRequestOp, IResponseOp } from 'etcd3';
import { SkeinError } from '../core/errors.ts';
import { KvErrorCode } from '../kv/errors.ts';
import type {
  Compare,
  CompareOp,
  CompareTarget,
  DeleteRangeResponse,
  KeySelector,
  KeyValue,
  RangeResponse,
  TxnOp,
  TxnOpResponse,
} from '../kv/types.ts';
import type { LeaseIdMap } from './etcd-lease-ids.ts';

/**
 * An etcd int64 (revision, version, count) as a number. These count writes, so they stay far below
 * 2^53 in any real cluster; a larger one is reported instead of silently rounded.
 */
export function int64ToNumber(value: string | number | undefined, field: string): number {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new SkeinError('SKEIN_UNSUPPORTED', `etcd returned ${field} ${String(value)} beyond 2^53`, {
      details: { field, value: String(value) },
    });
  }
  return n;
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

/** etcd's [key, range_end) for a selector. The empty key means "from the first key" ('\0'). */
export function selectorToEtcd(selector: KeySelector): { key: Buffer; range_end?: Buffer } {
  if (selector.prefix === true && selector.rangeEnd !== undefined) {
    throw new SkeinError(
      KvErrorCode.InvalidArgument,
      'prefix and rangeEnd cannot be combined: fix the request',
    );
  }
  const key =
    selector.key === '' && (selector.prefix === true || selector.rangeEnd !== undefined)
      ? '\0'
      : selector.key;
  if (selector.prefix === true) return { key: utf8(key), range_end: prefixEnd(utf8(selector.key)) };
  if (selector.rangeEnd !== undefined) return { key: utf8(key), range_end: utf8(selector.rangeEnd) };
  return { key: utf8(key) };
}

/** The smallest key greater than every key starting with `prefix` (etcd's GetPrefixRangeEnd). */
function prefixEnd(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix[i]!;
    if (byte < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i] = byte + 1;
      return end;
    }
  }
  // The empty prefix, or only 0xff bytes: every key from `prefix` on.
  return Buffer.from([0]);
}

export function keyValueFromEtcd(kv: IKeyValue, leases: LeaseIdMap): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    createRevision: int64ToNumber(kv.create_revision, 'create_revision'),
    modRevision: int64ToNumber(kv.mod_revision, 'mod_revision'),
    version: int64ToNumber(kv.version, 'version'),
    lease: leases.fromEtcd(kv.lease),
  };
}

const compareResult: Record<CompareOp, NonNullable<ICompare['result']>> = {
  '=': 'Equal',
  '!=': 'NotEqual',
  '<': 'Less',
  '>': 'Greater',
};

const compareTarget: Record<CompareTarget, NonNullable<ICompare['target']>> = {
  value: 'Value',
  version: 'Version',
  createRevision: 'Create',
  modRevision: 'Mod',
  lease: 'Lease',
};

export function compareToEtcd(compare: Compare, leases: LeaseIdMap): ICompare {
  const base: ICompare = {
    key: utf8(compare.key),
    result: compareResult[compare.op],
    target: compareTarget[compare.target],
  };
  const invalid = (): SkeinError =>
    new SkeinError(
      KvErrorCode.InvalidArgument,
      `compare on ${compare.target} needs a ${compare.target === 'value' ? 'string' : 'number'} value: fix the request`,
    );
  if (compare.target === 'value') {
    if (typeof compare.value !== 'string') throw invalid();
    return { ...base, value: utf8(compare.value) };
  }
  if (typeof compare.value !== 'number') throw invalid();
  switch (compare.target) {
    case 'version':
      return { ...base, version: compare.value };
    case 'createRevision':
      return { ...base, create_revision: compare.value };
    case 'modRevision':
      return { ...base, mod_revision: compare.value };
    case 'lease':
      return { ...base, lease: compare.value === 0 ? 0 : leases.toEtcd(compare.value) };
  }
}

export function txnOpToEtcd(op: TxnOp, leases: LeaseIdMap): IRequestOp {
  if ('put' in op) {
    const lease = op.put.lease ?? 0;
    return {
      request_put: {
        key: utf8(op.put.key),
        value: utf8(op.put.value),
        lease: lease === 0 ? 0 : leases.toEtcd(lease),
        prev_kv: op.put.prevKv ?? false,
      },
    };
  }
  if ('range' in op) return { request_range: rangeToEtcd(op.range) };
  return {
    request_delete_range: { ...selectorToEtcd(op.deleteRange), prev_kv: op.deleteRange.prevKv ?? false },
  };
}

export function rangeToEtcd(request: {
  readonly key: string;
  readonly prefix?: boolean;
  readonly rangeEnd?: string;
  readonly limit?: number;
  readonly revision?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
}): NonNullable<IRequestOp['request_range']> {
  return {
    ...selectorToEtcd(request),
    limit: request.limit ?? 0,
    revision: request.revision ?? 0,
    keys_only: request.keysOnly ?? false,
    count_only: request.countOnly ?? false,
  };
}

export function rangeResponseFromEtcd(
  response: NonNullable<IResponseOp['response_range']>,
  revision: number,
  leases: LeaseIdMap,
): RangeResponse {
  return {
    kvs: response.kvs.map((kv) => keyValueFromEtcd(kv, leases)),
    count: int64ToNumber(response.count, 'count'),
    more: response.more,
    revision,
  };
}

/** A transaction sub-response. Its header is empty in etcd: the revision is the transaction's. */
export function txnOpResponseFromEtcd(
  request: TxnOp | undefined,
  op: IResponseOp,
  revision: number,
  leases: LeaseIdMap,
): TxnOpResponse {
  // etcd3 types every branch of the oneof as present; only the one that was set is.
  const oneof = op as { [K in keyof IResponseOp]?: IResponseOp[K] | null };
  if (oneof.response_put !== null && oneof.response_put !== undefined) {
    const prev = oneof.response_put.prev_kv as IKeyValue | null | undefined;
    return {
      put:
        prev === null || prev === undefined
          ? { revision }
          : { revision, prevKv: keyValueFromEtcd(prev, leases) },
    };
  }
  if (oneof.response_range !== null && oneof.response_range !== undefined) {
    return { range: rangeResponseFromEtcd(oneof.response_range, revision, leases) };
  }
  const wantPrev = request !== undefined && 'deleteRange' in request && request.deleteRange.prevKv === true;
  return { deleteRange: deleteResponseFromEtcd(op.response_delete_range, revision, wantPrev, leases) };
}

export function deleteResponseFromEtcd(
  response: { readonly deleted: string; readonly prev_kvs: readonly IKeyValue[] },
  revision: number,
  wantPrev: boolean,
  leases: LeaseIdMap,
): DeleteRangeResponse {
  const deleted = int64ToNumber(response.deleted, 'deleted');
  if (!wantPrev) return { revision, deleted };
  return { revision, deleted, prevKvs: response.prev_kvs.map((kv) => keyValueFromEtcd(kv, leases)) };
}
