import type { Clock } from '../core/clock.ts';
import { CoreErrorCode, SkeinError } from '../core/errors.ts';

/** Who issued an operation: a client, a session, a simulated process. Only used in reports. */
export type ClientId = string | number;

/**
 * The output of an operation whose outcome is unknown (it timed out, or the client crashed before
 * the answer arrived). It may or may not have taken effect, at any point after its invocation.
 * A {@link Model} receives this instead of an output and must accept any outcome that the input
 * allows.
 */
export const Indeterminate: unique symbol = Symbol('skein.indeterminate');

/**
 * One client operation: an interval in real time from its invocation to its response.
 *
 * `call` and `return` are positions on one real-time axis: the checker only compares them. Two
 * operations are ordered when one's `return` is strictly before the other's `call`; an equal value
 * counts as overlapping. {@link HistoryRecorder} assigns every event its own position, so its
 * histories have no ties.
 */
export interface Operation<Input, Output> {
  /** Unique within a history. */
  readonly id: number;
  readonly clientId: ClientId;
  readonly input: Input;
  /** What the operation returned, or {@link Indeterminate} when nobody knows. */
  readonly output: Output | typeof Indeterminate;
  /** Position of the invocation. */
  readonly call: number;
  /** Position of the response; `Infinity` for an indeterminate operation. */
  readonly return: number;
  /** Clock time of the invocation, for reports. */
  readonly callMs?: number;
  /** Clock time of the response, for reports (absent when indeterminate). */
  readonly returnMs?: number;
}

/** Options for {@link HistoryRecorder}. */
export interface HistoryRecorderOptions {
  /** Bound on recorded operations; `invoke` throws beyond it. Default 1,000,000. */
  maxOperations?: number;
}

interface RecordedOperation<Input, Output> {
  readonly id: number;
  readonly clientId: ClientId;
  readonly input: Input;
  readonly call: number;
  readonly callMs: number;
  state: 'pending' | 'ok' | 'failed' | 'timed-out';
  output: Output | typeof Indeterminate;
  return: number;
  returnMs: number | undefined;
}

/**
 * Records client operations as they are invoked and answered, for {@link checkLinearizable}.
 *
 * ```ts
 * const history = new HistoryRecorder<KvInput, KvOutput>(clock);
 * const op = history.invoke('client-1', { op: 'put', key: 'a', value: 1 });
 * // ... later, when the answer arrives:
 * history.ok(op, undefined);   // or history.fail(op) / history.timeout(op)
 * ```
 *
 * Events are ordered by the injected clock (virtual or real); events at the same clock reading
 * are ordered by the order in which they were recorded. Because recording happens on one thread
 * and the clock must be monotonic (checked), that is exactly recording order.
 */
export class HistoryRecorder<Input, Output> {
  readonly #clock: Pick<Clock, 'now'>;
  readonly #maxOperations: number;
  readonly #records: RecordedOperation<Input, Output>[] = [];
  #position = 0;
  #lastMs = -Infinity;

  constructor(clock: Pick<Clock, 'now'>, options: HistoryRecorderOptions = {}) {
    this.#clock = clock;
    this.#maxOperations = options.maxOperations ?? 1_000_000;
  }

  /** Record the invocation of an operation; returns its id for {@link ok}/{@link fail}/{@link timeout}. */
  invoke(clientId: ClientId, input: Input): number {
    if (this.#records.length >= this.#maxOperations) {
      throw new SkeinError(
        CoreErrorCode.InvalidArgument,
        `history holds ${this.#maxOperations} operations already; check shorter histories or raise maxOperations`,
      );
    }
    const id = this.#records.length;
    const [call, callMs] = this.#event();
    this.#records.push({
      id,
      clientId,
      input,
      call,
      callMs,
      state: 'pending',
      output: Indeterminate,
      return: Infinity,
      returnMs: undefined,
    });
    return id;
  }

  /** The operation completed and returned `output`. */
  ok(id: number, output: Output): void {
    const record = this.#pending(id, 'ok');
    [record.return, record.returnMs] = this.#event();
    record.output = output;
    record.state = 'ok';
  }

  /** The operation definitely did not take effect (e.g. it was rejected before being proposed). */
  fail(id: number): void {
    this.#pending(id, 'fail').state = 'failed';
  }

  /**
   * The outcome is unknown: the operation may take effect at any point after its invocation, or
   * never. Operations still pending when the history is read count as timed out.
   */
  timeout(id: number): void {
    this.#pending(id, 'timeout').state = 'timed-out';
  }

  /** Operations invoked so far, including failed ones. */
  get size(): number {
    return this.#records.length;
  }

  /** The history to check: failed operations are left out; pending ones are indeterminate. */
  operations(): Operation<Input, Output>[] {
    const out: Operation<Input, Output>[] = [];
    for (const r of this.#records) {
      if (r.state === 'failed') continue;
      const base = { id: r.id, clientId: r.clientId, input: r.input, call: r.call, callMs: r.callMs };
      out.push(
        r.state === 'ok' && r.returnMs !== undefined
          ? { ...base, output: r.output, return: r.return, returnMs: r.returnMs }
          : { ...base, output: Indeterminate, return: Infinity },
      );
    }
    return out;
  }

  #event(): [position: number, timeMs: number] {
    const nowMs = this.#clock.now();
    if (nowMs < this.#lastMs) {
      throw new SkeinError(
        CoreErrorCode.InvalidArgument,
        `history clock went backwards (${nowMs} < ${this.#lastMs}); record with a monotonic clock`,
      );
    }
    this.#lastMs = nowMs;
    return [this.#position++, nowMs];
  }

  #pending(id: number, action: string): RecordedOperation<Input, Output> {
    const record = this.#records[id];
    if (record?.state !== 'pending') {
      throw new Error(
        `skein assertion failed: history.${action}(${id}): ${record === undefined ? 'no such operation' : `operation already ${record.state}`}`,
      );
    }
    return record;
  }
}
