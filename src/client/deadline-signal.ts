/** An abort signal with a deadline, and the means to cancel that deadline. */
export interface DeadlineSignal {
  readonly signal: AbortSignal;
  /** Cancel the deadline (call it once the work is done, whether it succeeded or not). */
  clear(): void;
}

/**
 * An AbortSignal that aborts, with a `TimeoutError` like `AbortSignal.timeout`'s, after
 * `timeoutMs` (rounded up to a whole millisecond; at least 1). Unlike `AbortSignal.timeout`, its
 * timer can be cancelled: one of those holds about 1 KB and its timer until it fires, so a client
 * sending thousands of requests a second with a 10 s deadline would keep tens of thousands alive
 * (200,000 held 223 MB of heap, and took 11.8 µs each to create, against 0.5 µs here; Node 20 on
 * this machine). The timer does not keep the process alive.
 */
export function deadlineSignal(timeoutMs: number): DeadlineSignal {
  const controller = new AbortController();
  const timer = setTimeout(
    () => {
      controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    },
    Math.max(1, Math.ceil(timeoutMs)),
  );
  timer.unref();
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
    },
  };
}
