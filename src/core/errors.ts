/**
 * Every error skein raises on purpose is a {@link SkeinError}: a stable machine-readable `code`
 * (never renamed once released), a message that says what happened and what to do, an optional
 * `cause`, and optional structured `details`. Subsystems declare their codes in their own
 * `errors.ts`; the core ones are here.
 */
export class SkeinError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SkeinError';
    this.code = code;
    this.details = options.details;
  }

  toJSON(): { code: string; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export const CoreErrorCode = {
  InvalidArgument: 'SKEIN_INVALID_ARGUMENT',
  InvalidConfig: 'SKEIN_INVALID_CONFIG',
  FrameTooLarge: 'SKEIN_FRAME_TOO_LARGE',
  DecodeFailed: 'SKEIN_DECODE_FAILED',
  Timeout: 'SKEIN_TIMEOUT',
  Closed: 'SKEIN_CLOSED',
} as const;
export type CoreErrorCode = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];

/** True when `error` is a SkeinError with the given code. */
export function hasCode(error: unknown, code: string): error is SkeinError {
  return error instanceof SkeinError && error.code === code;
}

/** Assertion for programmer errors: these are bugs, not conditions a caller should handle. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`skein assertion failed: ${message}`);
}
