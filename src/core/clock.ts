import { MinHeap } from './heap.ts';

/** An opaque timer handle returned by {@link Clock.setTimeout}. */
export interface TimerHandle {
  readonly id: number;
}

/**
 * Time as the protocols see it. Production uses {@link RealClock}; the simulator and timing tests
 * use {@link VirtualClock}, so no test ever waits on the wall clock for a protocol timeout.
 */
export interface Clock {
  /** Milliseconds since an arbitrary epoch; monotonic. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The process's monotonic clock (`performance.now()`) and Node's timers. */
export class RealClock implements Clock {
  readonly #timers = new Map<number, NodeJS.Timeout>();
  #nextId = 1;

  now(): number {
    return performance.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      callback();
    }, delayMs);
    this.#timers.set(id, timer);
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.#timers.get(handle.id);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#timers.delete(handle.id);
    }
  }
}

interface VirtualTimer {
  readonly id: number;
  readonly dueMs: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when told to. Timers fire in due-time order; timers due at the same
 * instant fire in the order they were set, so a run is a pure function of its inputs.
 */
export class VirtualClock implements Clock {
  #nowMs: number;
  #nextId = 1;
  readonly #cancelled = new Set<number>();
  readonly #queue = new MinHeap<VirtualTimer>((a, b) =>
    a.dueMs === b.dueMs ? a.id < b.id : a.dueMs < b.dueMs,
  );

  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    this.#queue.push({ id, dueMs: this.#nowMs + Math.max(0, delayMs), callback });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.#cancelled.add(handle.id);
  }

  /** Number of timers still scheduled (cancelled ones may be counted until they would have fired). */
  get pendingTimers(): number {
    return this.#queue.size;
  }

  /** Due time of the next live timer, or undefined if none. */
  nextDueMs(): number | undefined {
    this.#dropCancelledHead();
    return this.#queue.peek()?.dueMs;
  }

  /** Fire the next due timer, moving time forward to it. Returns false when no timer is left. */
  step(): boolean {
    this.#dropCancelledHead();
    const timer = this.#queue.pop();
    if (timer === undefined) return false;
    this.#nowMs = Math.max(this.#nowMs, timer.dueMs);
    timer.callback();
    return true;
  }

  /** Advance time by `ms`, firing every timer that falls due on the way (including ones they set). */
  advance(ms: number): void {
    const targetMs = this.#nowMs + ms;
    for (;;) {
      const due = this.nextDueMs();
      if (due === undefined || due > targetMs) break;
      this.step();
    }
    this.#nowMs = targetMs;
  }

  #dropCancelledHead(): void {
    for (;;) {
      const head = this.#queue.peek();
      if (head === undefined || !this.#cancelled.has(head.id)) return;
      this.#queue.pop();
      this.#cancelled.delete(head.id);
    }
  }
}
