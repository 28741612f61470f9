import { SkeinError } from '../core/errors.ts';

/** Stable error codes raised by skein/kv (and reported by the server and both client backends). */
export const KvErrorCode = {
  InvalidArgument: 'SKEIN_INVALID_ARGUMENT',
  /** The requested revision was compacted away. `details.compactRevision` says where history starts. */
  Compacted: 'SKEIN_COMPACTED',
  /** The requested revision is newer than the store's. */
  FutureRevision: 'SKEIN_FUTURE_REVISION',
  LeaseNotFound: 'SKEIN_LEASE_NOT_FOUND',
  LeaseExists: 'SKEIN_LEASE_EXISTS',
  KeyTooLarge: 'SKEIN_KEY_TOO_LARGE',
  ValueTooLarge: 'SKEIN_VALUE_TOO_LARGE',
  TooManyOps: 'SKEIN_TOO_MANY_OPS',
  /** A transaction writes the same key twice. */
  DuplicateKey: 'SKEIN_DUPLICATE_KEY',
  /** The store reached `maxKeys` or `maxLeases`. */
  Full: 'SKEIN_KV_FULL',
} as const;
export type KvErrorCode = (typeof KvErrorCode)[keyof typeof KvErrorCode];

const hints: Record<KvErrorCode, string> = {
  SKEIN_INVALID_ARGUMENT: 'fix the request',
  SKEIN_COMPACTED: 'that revision was compacted; read or watch from the current revision instead',
  SKEIN_FUTURE_REVISION: 'that revision does not exist yet; use a revision at most the current one',
  SKEIN_LEASE_NOT_FOUND: 'the lease expired or was revoked; grant a new one',
  SKEIN_LEASE_EXISTS: 'a lease with this id exists already',
  SKEIN_KEY_TOO_LARGE: 'use a shorter key or raise maxKeyBytes',
  SKEIN_VALUE_TOO_LARGE: 'store a smaller value or raise maxValueBytes',
  SKEIN_TOO_MANY_OPS: 'split the transaction or raise maxTxnOps',
  SKEIN_DUPLICATE_KEY: 'a transaction may write each key at most once',
  SKEIN_KV_FULL: 'delete keys or revoke leases, or raise maxKeys / maxLeases',
};

/** A SkeinError whose message ends with what to do about it. */
export function kvError(code: KvErrorCode, what: string, details?: Record<string, unknown>): SkeinError {
  return new SkeinError(code, `${what}: ${hints[code]}`, details === undefined ? {} : { details });
}
