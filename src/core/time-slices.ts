import type { Clock } from './clock.ts';

/** How {@link inTimeSlices} measures a slice and schedules the next one. */
export interface TimeSliceOptions {
  /** Work done between two turns of the event loop. */
  readonly sliceMs: number;
  readonly clock: Clock;
  /**
   * Runs the continuation later: `setImmediate` in production, a virtual timer in the simulator
   * (whose clock does not move during a slice, so there it never pauses).
   */
  readonly defer: (fn: () => void) => void;
}

/**
 * Hand out `items`, which may be produced lazily (encoded as they are read, say), and give control
 * back to the event loop after each slice of `sliceMs` of work, so that a long job such as
 * encoding a large snapshot does not stall requests and heartbeats meanwhile.
 */
export async function* inTimeSlices<T>(items: Iterable<T>, options: TimeSliceOptions): AsyncGenerator<T> {
  const { sliceMs, clock, defer } = options;
  let sliceStartMs = clock.now();
  for (const item of items) {
    yield item;
    if (clock.now() - sliceStartMs >= sliceMs) {
      await new Promise<void>((resolve) => {
        defer(resolve);
      });
      sliceStartMs = clock.now();
    }
  }
}
