import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SkeinError } from '../../src/core/errors.ts';
import type { CoordinationStore, WatchHandle, WatchRequest, WatchResponse } from '../../src/client/types.ts';
import type { BackendExpectations } from './expectations.ts';

export { sleep };

/** What every case module gets: the store under test, a fresh key namespace per test, the expectations. */
export interface SuiteContext {
  readonly store: CoordinationStore;
  readonly expect: BackendExpectations;
  readonly options: Required<ConformanceOptions>;
  /** A key prefix no other test (or earlier run) uses, ending in '/'. */
  ns(name: string): string;
}

export interface ConformanceOptions {
  /** An idle watch with progressNotify gets a progress response within this long; 0 skips the test. */
  readonly progressNotifyWithinMs?: number;
  /** Keys of an unrenewed lease are gone within ttl + this. Default 2500 ms. */
  readonly leaseExpiryBoundMs?: number;
}

/** Rejects with the code of the SkeinError `promise` rejects with (fails if it resolves). */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<SkeinError> {
  try {
    await promise;
  } catch (error) {
    assert.equal((error as SkeinError).code, code, `expected ${code}, got ${String(error)}`);
    return error as SkeinError;
  }
  assert.fail(`expected a rejection with ${code}, but it resolved`);
}

/** Poll `check` every 20 ms until it returns true or `timeoutMs` passes. Returns the elapsed ms. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs)
      assert.fail(`timed out after ${String(timeoutMs)} ms waiting for ${what}`);
    await sleep(20);
  }
  return performance.now() - start;
}

/** A watch that records every response and error. */
export interface Recorder {
  readonly handle: WatchHandle;
  readonly responses: WatchResponse[];
  readonly errors: Error[];
  /** Every event, flattened. */
  events(): WatchResponse['events'][number][];
}

export async function record(store: CoordinationStore, request: WatchRequest): Promise<Recorder> {
  const responses: WatchResponse[] = [];
  const errors: Error[] = [];
  const handle = await store.watch(request, {
    onResponse: (response) => responses.push(response),
    onError: (error) => errors.push(error),
  });
  return { handle, responses, errors, events: () => responses.flatMap((r) => r.events) };
}
