/**
 * How the etcd backend retries and fails over, replacing etcd3's defaults. etcd3 counts every
 * "recoverable" gRPC error — including RESOURCE_EXHAUSTED for one oversized request — towards a
 * per-host circuit breaker that then refuses *all* calls for 5 s, and retries them immediately.
 * Here only UNAVAILABLE (member unreachable or connection dropped) counts: three in a row open a
 * host's breaker for `hostPauseMs`, so calls go to the other members meanwhile, and a call is
 * retried (on another member when there is one) at most `maxRetries` times with exponential backoff.
 *
 * A retried write may have applied on the first attempt (etcd's own Go client accepts the same);
 * the recipes are written so that a duplicate is harmless.
 */
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { GRPCUnavailableError, type IOptions } from 'etcd3';

export interface EtcdFaultHandlingOptions {
  /** Retries per call after the first attempt. Default 2. */
  readonly maxRetries?: number;
  /** First retry delay; doubles up to 500 ms. Default 50 ms. */
  readonly retryDelayMs?: number;
  /** How long a member that failed three calls in a row is skipped. Default 1 s. */
  readonly hostPauseMs?: number;
}

const isUnavailable = (error: Error): boolean => error instanceof GRPCUnavailableError;

export function faultHandling(
  options: EtcdFaultHandlingOptions = {},
): NonNullable<IOptions['faultHandling']> {
  return {
    host: () =>
      circuitBreaker(handleWhen(isUnavailable), {
        halfOpenAfter: options.hostPauseMs ?? 1000,
        breaker: new ConsecutiveBreaker(3),
      }),
    global: retry(handleWhen(isUnavailable), {
      maxAttempts: options.maxRetries ?? 2,
      backoff: new ExponentialBackoff({ initialDelay: options.retryDelayMs ?? 50, maxDelay: 500 }),
    }),
  };
}
