/**
 * etcd's errors as SkeinErrors with the codes both backends share (src/kv/errors.ts, and the
 * transport-level codes the skein server reports: SKEIN_UNAVAILABLE, SKEIN_NO_LEADER, ...).
 * etcd reports most conditions only as message text ("etcdserver: ..."), so we match on it.
 */
import { castGrpcError } from 'etcd3';
import { SkeinError } from '../core/errors.ts';
import { KvErrorCode, kvError } from '../kv/errors.ts';

/** Codes this backend raises besides the KvErrorCode ones; the skein server uses the same names. */
export const EtcdClientErrorCode = {
  /** etcd could not be reached or the connection broke; the request may or may not have applied. */
  Unavailable: 'SKEIN_UNAVAILABLE',
  NoLeader: 'SKEIN_NO_LEADER',
  Timeout: 'SKEIN_TIMEOUT',
  Overloaded: 'SKEIN_OVERLOADED',
  Unauthorized: 'SKEIN_UNAUTHORIZED',
  Closed: 'SKEIN_CLOSED',
  /** A value etcd returned that this client cannot represent (see docs/client.md). */
  Unsupported: 'SKEIN_UNSUPPORTED',
  /** Any other etcd error; the message is etcd's. */
  Backend: 'SKEIN_BACKEND_ERROR',
} as const;
export type EtcdClientErrorCode = (typeof EtcdClientErrorCode)[keyof typeof EtcdClientErrorCode];

interface Rule {
  readonly match: string;
  readonly error: (message: string) => SkeinError;
}

const backend = (code: string, what: string) => (message: string) =>
  new SkeinError(code, `${what} (etcd: ${message})`, { details: { etcdMessage: message } });

/** Ordered: the first matching message fragment wins. */
const rules: readonly Rule[] = [
  {
    match: 'required revision has been compacted',
    error: () => kvError(KvErrorCode.Compacted, 'revision compacted'),
  },
  {
    match: 'required revision is a future revision',
    error: () => kvError(KvErrorCode.FutureRevision, 'revision in the future'),
  },
  { match: 'requested lease not found', error: () => kvError(KvErrorCode.LeaseNotFound, 'lease not found') },
  { match: 'lease already exists', error: () => kvError(KvErrorCode.LeaseExists, 'lease exists') },
  {
    match: 'duplicate key given in txn request',
    error: () => kvError(KvErrorCode.DuplicateKey, 'transaction writes a key twice'),
  },
  {
    match: 'too many operations in txn request',
    error: () => kvError(KvErrorCode.TooManyOps, "transaction exceeds etcd's --max-txn-ops"),
  },
  {
    match: 'request is too large',
    error: () => kvError(KvErrorCode.ValueTooLarge, "request exceeds etcd's --max-request-bytes"),
  },
  {
    match: 'larger than max',
    error: () => kvError(KvErrorCode.ValueTooLarge, "request exceeds etcd's gRPC message limit"),
  },
  { match: 'key is not provided', error: () => kvError(KvErrorCode.InvalidArgument, 'empty key') },
  {
    match: 'database space exceeded',
    error: () => kvError(KvErrorCode.Full, "etcd's --quota-backend-bytes reached"),
  },
  { match: 'no leader', error: backend(EtcdClientErrorCode.NoLeader, 'etcd has no leader: retry shortly') },
  { match: 'leader changed', error: backend(EtcdClientErrorCode.Unavailable, 'etcd leader changed: retry') },
  {
    match: 'too many requests',
    error: backend(EtcdClientErrorCode.Overloaded, 'etcd is overloaded: retry later'),
  },
  {
    match: 'request timed out',
    error: backend(
      EtcdClientErrorCode.Timeout,
      'etcd timed out; the request may have applied: check, then retry',
    ),
  },
  { match: 'permission denied', error: backend(EtcdClientErrorCode.Unauthorized, 'etcd denied the request') },
  {
    match: 'authentication failed',
    error: backend(EtcdClientErrorCode.Unauthorized, 'etcd rejected the user name or password'),
  },
  {
    match: 'invalid auth token',
    error: backend(EtcdClientErrorCode.Unauthorized, 'etcd rejected the auth token'),
  },
  {
    match: 'user name is empty',
    error: backend(EtcdClientErrorCode.Unauthorized, 'etcd requires authentication'),
  },
];

/** gRPC status codes that mean "could not reach etcd or the connection broke" (may have applied). */
const transientGrpcClasses = new Set([
  'GRPCUnavailableError',
  'GRPCCancelledError',
  'GRPCInternalError',
  'GRPCUnknownError',
  'GRPCDeadlineExceededError',
  'GRPCAbortedError',
  'BrokenCircuitError',
  'ClientRuntimeError',
  'EtcdWatchStreamEnded',
]);

/** The SkeinError for anything etcd3 threw; SkeinErrors pass through unchanged. */
export function fromEtcdError(error: unknown): SkeinError {
  if (error instanceof SkeinError) return error;
  // Errors from streams reach us as plain gRPC errors; etcd3 types them like its unary calls.
  const err = error instanceof Error ? castGrpcError(error) : new Error(String(error));
  const message = err.message.replace(/^\w+Error: /, '');
  for (const rule of rules) {
    if (message.includes(rule.match)) return withCause(rule.error(message), err);
  }
  if (err.constructor.name === 'ClientClosedError') {
    return new SkeinError(EtcdClientErrorCode.Closed, 'the etcd client is closed: connect again', {
      cause: err,
    });
  }
  if (
    transientGrpcClasses.has(err.constructor.name) ||
    /ECONNREFUSED|No connection established/.test(message)
  ) {
    return new SkeinError(
      EtcdClientErrorCode.Unavailable,
      `etcd is unreachable (${message}): retry; a write may or may not have applied`,
      { cause: err },
    );
  }
  return new SkeinError(EtcdClientErrorCode.Backend, `etcd error: ${message}`, { cause: err });
}

function withCause(error: SkeinError, cause: Error): SkeinError {
  return new SkeinError(error.code, error.message, {
    cause,
    ...(error.details === undefined ? {} : { details: { ...error.details } }),
  });
}

/** True for errors worth retrying as they are (nothing wrong with the request itself). */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof SkeinError)) return false;
  const transient: readonly string[] = [
    EtcdClientErrorCode.Unavailable,
    EtcdClientErrorCode.NoLeader,
    EtcdClientErrorCode.Timeout,
    EtcdClientErrorCode.Overloaded,
  ];
  return transient.includes(error.code);
}
