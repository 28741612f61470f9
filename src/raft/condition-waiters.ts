import type { Clock, TimerHandle } from '../core/clock.ts';
import { RaftErrorCode, raftError } from './errors.ts';

interface Waiter {
  readonly check: () => boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly timer: TimerHandle;
}

/**
 * Calls that wait for a condition on a node's state ("the change applied", "this node leads"):
 * each resolves once its check returns true, rejects with what its check throws, or with
 * SKEIN_TIMEOUT after `timeoutMs`. The node runs every check after each batch it processes
 * ({@link checkAll}), so a condition is seen as soon as the state that satisfies it exists.
 */
export class ConditionWaiters {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #waiters: Waiter[] = [];

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** Resolve once `check()` is true (checked now, then at every {@link checkAll}). */
  waitUntil(check: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        if (check()) {
          resolve();
          return;
        }
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      const waiter: Waiter = {
        check,
        resolve,
        reject,
        timer: this.#clock.setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(raftError(RaftErrorCode.Timeout, `operation not complete within ${this.#timeoutMs} ms`));
        }, this.#timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Run every check: settle those that are done or threw, keep the others waiting. */
  checkAll(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      let done: boolean;
      try {
        done = w.check();
      } catch (error) {
        this.#clock.clearTimeout(w.timer);
        w.reject(error);
        continue;
      }
      if (done) {
        this.#clock.clearTimeout(w.timer);
        w.resolve();
      } else {
        still.push(w);
      }
    }
    this.#waiters = still;
  }

  /** Reject every waiting call with `error` (the node stopped). */
  rejectAll(error: unknown): void {
    for (const w of this.#waiters) {
      this.#clock.clearTimeout(w.timer);
      w.reject(error);
    }
    this.#waiters = [];
  }
}
