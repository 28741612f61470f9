import { SkeinError } from '../core/errors.ts';

/** The JSON body of every error answer: `{ "error": { "code", "message", "details"? } }`. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

/** HTTP status for each stable code; anything else is a 500. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  SKEIN_INVALID_ARGUMENT: 400,
  SKEIN_KEY_TOO_LARGE: 400,
  SKEIN_VALUE_TOO_LARGE: 413,
  SKEIN_TOO_MANY_OPS: 400,
  SKEIN_DUPLICATE_KEY: 400,
  SKEIN_COMPACTED: 400,
  SKEIN_FUTURE_REVISION: 400,
  SKEIN_COMMAND_TOO_LARGE: 413,
  SKEIN_BODY_TOO_LARGE: 413,
  SKEIN_BAD_FRAME: 400,
  SKEIN_UNAUTHORIZED: 401,
  SKEIN_LEASE_NOT_FOUND: 404,
  SKEIN_MEMBER_NOT_FOUND: 404,
  SKEIN_NOT_FOUND: 404,
  SKEIN_LEASE_EXISTS: 409,
  SKEIN_ALREADY_MEMBER: 409,
  SKEIN_NODE_ID_REUSED: 409,
  SKEIN_CONFIG_CHANGE_IN_PROGRESS: 409,
  SKEIN_LEARNER_NOT_CAUGHT_UP: 409,
  SKEIN_INVALID_CONFIG_CHANGE: 400,
  SKEIN_OVERLOADED: 429,
  SKEIN_TOO_MANY_WATCHES: 429,
  SKEIN_NO_LEADER: 503,
  SKEIN_NOT_LEADER: 503,
  SKEIN_NOT_MEMBER: 503,
  SKEIN_LEADERSHIP_TRANSFER_IN_PROGRESS: 503,
  SKEIN_STOPPED: 503,
  SKEIN_UNAVAILABLE: 503,
  SKEIN_TIMEOUT: 504,
  SKEIN_KV_FULL: 507,
  SKEIN_MEMBERSHIP_NOT_MEMBER: 404,
  SKEIN_MEMBERSHIP_GROUP_NOT_FOUND: 404,
  SKEIN_MEMBERSHIP_SESSION_NOT_FOUND: 404,
  SKEIN_MEMBERSHIP_STRATEGY_MISMATCH: 409,
  SKEIN_MEMBERSHIP_SETTLE_MISMATCH: 409,
  SKEIN_MEMBERSHIP_LIMIT_EXCEEDED: 507,
  SKEIN_MEMBERSHIP_INVALID_COMMAND: 400,
  SKEIN_STORAGE_FULL: 507,
};

/**
 * The error a caller should see. A processor's own error (the store refusing a put to a missing
 * lease, say) reaches RaftNode wrapped in SKEIN_PROCESSOR_FAILED; the caller wants the inner one.
 */
export function unwrapError(error: unknown): unknown {
  if (
    error instanceof SkeinError &&
    error.code === 'SKEIN_PROCESSOR_FAILED' &&
    error.cause instanceof SkeinError
  ) {
    return error.cause;
  }
  return error;
}

export function httpStatusOf(error: unknown): number {
  return error instanceof SkeinError ? (STATUS_BY_CODE[error.code] ?? 500) : 500;
}

export function errorBody(error: unknown): ErrorBody {
  if (error instanceof SkeinError) {
    return {
      error: {
        code: error.code,
        message: error.message,
        ...(error.details !== undefined ? { details: error.details } : {}),
      },
    };
  }
  return { error: { code: 'SKEIN_INTERNAL', message: 'internal error; see the server log' } };
}

/** The status and body of the answer to a failed request; `unexpected` ones (a 5xx that is not
 * 503, 504 or 507) deserve a line in the server log. */
export function errorAnswer(error: unknown): { status: number; body: ErrorBody; unexpected: boolean } {
  const status = httpStatusOf(error);
  return {
    status,
    body: errorBody(error),
    unexpected: status >= 500 && status !== 503 && status !== 504 && status !== 507,
  };
}

/** What a member that is shutting down answers to new requests. */
export function stoppingError(): SkeinError {
  return new SkeinError('SKEIN_STOPPED', 'this member is shutting down; use another');
}

/** What a request without the right bearer token gets. */
export function unauthorizedError(): SkeinError {
  return new SkeinError(
    'SKEIN_UNAUTHORIZED',
    'missing or wrong bearer token: send "Authorization: Bearer <token>"',
  );
}
