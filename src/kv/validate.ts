import { kvError, KvErrorCode } from './errors.ts';
import { fitsUtf8 } from './key-order.ts';
import { MAX_MEMBER_FIELD_LENGTH, type KvLimits } from './limits.ts';
import { isSingleKey, selects } from './selector.ts';
import type {
  Compare,
  CompactRequest,
  DeleteRangeRequest,
  KeySelector,
  LeaseGrantRequest,
  PutRequest,
  RangeRequest,
  TxnOp,
  TxnRequest,
} from './types.ts';

/**
 * Shape validation shared by the store's processors and the HTTP server. Each validator checks a
 * decoded (untrusted) value and returns it typed, unchanged; a bad value raises
 * SKEIN_INVALID_ARGUMENT (or a size code) with a message naming the field, e.g. `txn.success[2].put.key`.
 * Absent optional fields must be absent (or undefined), not null.
 */

/** `lease-grant` parameters: the API's request plus an optional caller-chosen id. */
export interface LeaseGrantCommand extends LeaseGrantRequest {
  /** Use this id (1 .. 2^53-1); absent or 0: the store allocates one. */
  readonly id?: number;
}

export interface LeaseRevokeCommand {
  readonly id: number;
  /** True when the leader revokes it because its TTL ran out (informational). */
  readonly expired?: boolean;
}

export interface MemberPublishCommand {
  readonly id: string;
  readonly name: string;
  readonly clientUrl: string;
}

type Fields = Readonly<Record<string, unknown>>;

const fields = (...names: string[]): ReadonlySet<string> => new Set(names);
const PUT_FIELDS = fields('key', 'value', 'lease', 'prevKv');
const RANGE_FIELDS = fields('key', 'prefix', 'rangeEnd', 'limit', 'revision', 'keysOnly', 'countOnly');
const DELETE_FIELDS = fields('key', 'prefix', 'rangeEnd', 'prevKv');
const TXN_FIELDS = fields('compare', 'success', 'failure');
const COMPARE_FIELDS = fields('key', 'target', 'op', 'value');
const COMPACT_FIELDS = fields('revision');
const LEASE_GRANT_FIELDS = fields('ttlSeconds', 'id');
const LEASE_REVOKE_FIELDS = fields('id', 'expired');
const MEMBER_FIELDS = fields('id', 'name', 'clientUrl');
const TXN_OP_FIELDS = fields('put', 'range', 'deleteRange');
const COMPARE_TARGETS = new Set(['value', 'version', 'createRevision', 'modRevision', 'lease']);
const COMPARE_OPS = new Set(['=', '!=', '<', '>']);

export function validatePut(p: unknown, limits: KvLimits, path = 'put'): PutRequest {
  const o = object(p, path, PUT_FIELDS);
  key(o.key, `${path}.key`, limits, false);
  if (typeof o.value !== 'string') throw invalid(`${path}.value must be a string`);
  if (!fitsUtf8(o.value, limits.maxValueBytes)) {
    const bytes = Buffer.byteLength(o.value, 'utf8');
    const what = `${path}.value is ${bytes} UTF-8 bytes, more than maxValueBytes (${limits.maxValueBytes})`;
    throw kvError(KvErrorCode.ValueTooLarge, what);
  }
  if (o.lease !== undefined) integer(o.lease, `${path}.lease`, 0);
  if (o.prevKv !== undefined) boolean(o.prevKv, `${path}.prevKv`);
  return o as unknown as PutRequest;
}

export function validateRange(p: unknown, limits: KvLimits, path = 'range'): RangeRequest {
  const o = object(p, path, RANGE_FIELDS);
  selector(o, path, limits);
  if (o.limit !== undefined) integer(o.limit, `${path}.limit`, 0);
  if (o.revision !== undefined) integer(o.revision, `${path}.revision`, 0);
  if (o.keysOnly !== undefined) boolean(o.keysOnly, `${path}.keysOnly`);
  if (o.countOnly !== undefined) boolean(o.countOnly, `${path}.countOnly`);
  return o as unknown as RangeRequest;
}

export function validateDeleteRange(p: unknown, limits: KvLimits, path = 'deleteRange'): DeleteRangeRequest {
  const o = object(p, path, DELETE_FIELDS);
  selector(o, path, limits);
  if (o.prevKv !== undefined) boolean(o.prevKv, `${path}.prevKv`);
  return o as unknown as DeleteRangeRequest;
}

/** Also checks the op counts (SKEIN_TOO_MANY_OPS) and that no branch writes a key twice (SKEIN_DUPLICATE_KEY). */
export function validateTxn(p: unknown, limits: KvLimits, path = 'txn'): TxnRequest {
  const o = object(p, path, TXN_FIELDS);
  for (const name of ['compare', 'success', 'failure'] as const) {
    const list = o[name];
    if (!Array.isArray(list)) throw invalid(`${path}.${name} must be an array`);
    if (list.length > limits.maxTxnOps) {
      const what = `${path}.${name} has ${list.length} entries, more than maxTxnOps (${limits.maxTxnOps})`;
      throw kvError(KvErrorCode.TooManyOps, what);
    }
  }
  (o.compare as unknown[]).forEach((c, i) => {
    validateCompare(c, limits, `${path}.compare[${i}]`);
  });
  for (const name of ['success', 'failure'] as const) {
    const ops = o[name] as unknown[];
    ops.forEach((op, i) => {
      validateTxnOp(op, limits, `${path}.${name}[${i}]`);
    });
    checkNoDuplicateWrites(ops as TxnOp[], `${path}.${name}`);
  }
  return o as unknown as TxnRequest;
}

export function validateCompact(p: unknown): CompactRequest {
  const o = object(p, 'compact', COMPACT_FIELDS);
  integer(o.revision, 'compact.revision', 0);
  return o as unknown as CompactRequest;
}

export function validateLeaseGrant(p: unknown, limits: KvLimits): LeaseGrantCommand {
  const o = object(p, 'leaseGrant', LEASE_GRANT_FIELDS);
  integer(o.ttlSeconds, 'leaseGrant.ttlSeconds', 1, limits.maxLeaseTtlSeconds);
  if (o.id !== undefined) integer(o.id, 'leaseGrant.id', 0);
  return o as unknown as LeaseGrantCommand;
}

export function validateLeaseRevoke(p: unknown): LeaseRevokeCommand {
  const o = object(p, 'leaseRevoke', LEASE_REVOKE_FIELDS);
  integer(o.id, 'leaseRevoke.id', 1);
  if (o.expired !== undefined) boolean(o.expired, 'leaseRevoke.expired');
  return o as unknown as LeaseRevokeCommand;
}

export function validateMemberPublish(p: unknown): MemberPublishCommand {
  const o = object(p, 'memberPublish', MEMBER_FIELDS);
  for (const field of ['id', 'name', 'clientUrl'] as const) {
    const v = o[field];
    if (typeof v !== 'string' || v.length > MAX_MEMBER_FIELD_LENGTH) {
      throw invalid(
        `memberPublish.${field} must be a string of at most ${MAX_MEMBER_FIELD_LENGTH} characters`,
      );
    }
  }
  if (o.id === '') throw invalid('memberPublish.id must not be empty');
  return o as unknown as MemberPublishCommand;
}

function validateCompare(p: unknown, limits: KvLimits, path: string): Compare {
  const o = object(p, path, COMPARE_FIELDS);
  key(o.key, `${path}.key`, limits, false);
  if (typeof o.target !== 'string' || !COMPARE_TARGETS.has(o.target)) {
    throw invalid(`${path}.target must be one of ${[...COMPARE_TARGETS].join(', ')}`);
  }
  if (typeof o.op !== 'string' || !COMPARE_OPS.has(o.op)) {
    throw invalid(`${path}.op must be one of ${[...COMPARE_OPS].join(' ')}`);
  }
  if (o.target === 'value') {
    if (typeof o.value !== 'string') throw invalid(`${path}.value must be a string when target is value`);
    if (!fitsUtf8(o.value, limits.maxValueBytes)) {
      throw kvError(
        KvErrorCode.ValueTooLarge,
        `${path}.value is larger than maxValueBytes (${limits.maxValueBytes})`,
      );
    }
  } else {
    integer(o.value, `${path}.value`, 0);
  }
  return o as unknown as Compare;
}

function validateTxnOp(p: unknown, limits: KvLimits, path: string): void {
  const o = object(p, path, TXN_OP_FIELDS);
  const kinds = Object.keys(o).filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) throw invalid(`${path} must have exactly one of put, range, deleteRange`);
  if (o.put !== undefined) validatePut(o.put, limits, `${path}.put`);
  else if (o.range !== undefined) validateRange(o.range, limits, `${path}.range`);
  else validateDeleteRange(o.deleteRange, limits, `${path}.deleteRange`);
}

/** etcd's rule: within a branch, a put's key may not be put again nor lie in a deleteRange. */
function checkNoDuplicateWrites(ops: readonly TxnOp[], path: string): void {
  const putKeys = new Set<string>();
  for (const op of ops) {
    if (!('put' in op)) continue;
    if (putKeys.has(op.put.key)) throw duplicate(path, op.put.key);
    putKeys.add(op.put.key);
  }
  if (putKeys.size === 0) return;
  for (const op of ops) {
    if (!('deleteRange' in op)) continue;
    const range = op.deleteRange;
    if (isSingleKey(range)) {
      if (putKeys.has(range.key)) throw duplicate(path, range.key);
      continue;
    }
    for (const k of putKeys) if (selects(range, k)) throw duplicate(path, k);
  }
}

function duplicate(path: string, key: string): Error {
  return kvError(KvErrorCode.DuplicateKey, `${path} writes key ${JSON.stringify(key)} more than once`);
}

function selector(o: Fields, path: string, limits: KvLimits): KeySelector {
  const hasPrefix = o.prefix !== undefined;
  const hasEnd = o.rangeEnd !== undefined;
  if (hasPrefix) boolean(o.prefix, `${path}.prefix`);
  if (hasEnd) key(o.rangeEnd, `${path}.rangeEnd`, limits, false);
  if (o.prefix === true && hasEnd) throw invalid(`${path} cannot have both prefix and rangeEnd`);
  // An empty key is only meaningful as the start of a range ('' with prefix: every key).
  key(o.key, `${path}.key`, limits, o.prefix === true || hasEnd);
  return o as unknown as KeySelector;
}

function object(p: unknown, path: string, allowed: ReadonlySet<string>): Fields {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw invalid(`${path} must be an object`);
  for (const field in p) {
    if (!allowed.has(field)) {
      throw invalid(`${path}.${field} is not a known field (expected ${[...allowed].join(', ')})`);
    }
  }
  return p as Fields;
}

function key(v: unknown, path: string, limits: KvLimits, allowEmpty: boolean): void {
  if (typeof v !== 'string') throw invalid(`${path} must be a string`);
  if (v === '' && !allowEmpty) throw invalid(`${path} must not be empty`);
  if (!fitsUtf8(v, limits.maxKeyBytes)) {
    const bytes = Buffer.byteLength(v, 'utf8');
    throw kvError(
      KvErrorCode.KeyTooLarge,
      `${path} is ${bytes} UTF-8 bytes, more than maxKeyBytes (${limits.maxKeyBytes})`,
    );
  }
}

function integer(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(`${path} must be an integer from ${min} to ${max}`);
  }
}

function boolean(v: unknown, path: string): void {
  if (typeof v !== 'boolean') throw invalid(`${path} must be a boolean`);
}

function invalid(what: string): Error {
  return kvError(KvErrorCode.InvalidArgument, what);
}
