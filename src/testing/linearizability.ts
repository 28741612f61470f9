import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import { HistoryRecorder, Indeterminate, type Operation } from './history.ts';
import type { Model } from './linearizability-model.ts';
import { buildCounterexample, type Counterexample } from './linearizability-report.ts';
import { searchLinearization, type GiveUpReason, type SearchBudget } from './linearizability-search.ts';

/**
 * `'ok'`: linearizable. `'illegal'`: not linearizable (see the counterexample). `'unknown'`: the
 * checker ran out of time or memory before deciding; neither verdict was shown.
 */
export type CheckVerdict = 'ok' | 'illegal' | 'unknown';

/** Options for {@link checkLinearizable}. */
export interface CheckOptions {
  /** Give up with `'unknown'` after this long (wall clock, whole history). Default: no limit. */
  timeoutMs?: number;
  /** Give up a partition with `'unknown'` when its memo cache holds about this much. Default 512 MiB. */
  maxCacheBytes?: number;
  /** The clock for `timeoutMs`; defaults to `performance.now`. Tests inject their own. */
  now?: () => number;
}

/** The verdict for one partition (for the key-value model: one key). */
export interface PartitionResult {
  readonly key: string;
  /** Operations checked, after dropping indeterminate reads. */
  readonly operations: number;
  readonly result: CheckVerdict;
  /** Why the verdict is `'unknown'`. */
  readonly reason?: GiveUpReason;
  readonly elapsedMs: number;
}

/** The outcome of {@link checkLinearizable}. */
export interface LinearizabilityResult<Input, Output> {
  /** `'illegal'` if any partition is; else `'unknown'` if any is; else `'ok'`. */
  readonly result: CheckVerdict;
  readonly partitions: readonly PartitionResult[];
  /** For the first illegal partition: the longest linearizable prefix and what blocks it. */
  readonly counterexample?: Counterexample<Input, Output>;
  readonly elapsedMs: number;
}

export type { GiveUpReason } from './linearizability-search.ts';
export type { Model, StepResult } from './linearizability-model.ts';
export type { Counterexample } from './linearizability-report.ts';

const defaultMaxCacheBytes = 512 * 1024 * 1024;

/**
 * Decide whether a history of concurrent operations (an array, or a {@link HistoryRecorder}) is
 * linearizable with respect to `model`: is there one order of the operations, consistent with
 * real time (an operation that returned before another was invoked comes first), in which the
 * model accepts every output?
 *
 * The history is split with `model.partition` and each part is searched on its own (Wing & Gong's
 * backtracking with Lowe's memoization, as in porcupine and knossos). Indeterminate operations
 * (timed out) may take effect at any point after their invocation, or not at all.
 *
 * ```ts
 * const verdict = checkLinearizable(kvModel, recorder, { timeoutMs: 10_000 });
 * assert.equal(verdict.result, 'ok', verdict.counterexample?.text);
 * ```
 */
export function checkLinearizable<State, Input, Output>(
  model: Model<State, Input, Output>,
  recorded: readonly Operation<Input, Output>[] | HistoryRecorder<Input, Output>,
  options: CheckOptions = {},
): LinearizabilityResult<Input, Output> {
  const history = recorded instanceof HistoryRecorder ? recorded.operations() : recorded;
  validate(history);
  const now = options.now ?? (() => performance.now());
  const startMs = now();
  const budget: SearchBudget = {
    deadlineMs: startMs + (options.timeoutMs ?? Infinity),
    now,
    maxCacheBytes: options.maxCacheBytes ?? defaultMaxCacheBytes,
  };
  const parts = model.partition?.(history) ?? new Map([['all', [...history]]]);
  const partitions: PartitionResult[] = [];
  let counterexample: Counterexample<Input, Output> | undefined;
  for (const [key, part] of parts) {
    const checked = checkPartition(model, key, part, budget);
    partitions.push(checked.partition);
    counterexample ??= checked.counterexample;
  }
  const result: CheckVerdict =
    counterexample !== undefined
      ? 'illegal'
      : partitions.some((p) => p.result === 'unknown')
        ? 'unknown'
        : 'ok';
  const elapsedMs = now() - startMs;
  return counterexample === undefined
    ? { result, partitions, elapsedMs }
    : { result, partitions, counterexample, elapsedMs };
}

function checkPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  key: string,
  part: readonly Operation<Input, Output>[],
  budget: SearchBudget,
): { partition: PartitionResult; counterexample?: Counterexample<Input, Output> } {
  // An indeterminate read constrains nothing; searching over where it might go only costs time.
  const operations = part.filter((op) => op.output !== Indeterminate || model.readOnly?.(op.input) !== true);
  const base = { key, operations: operations.length };
  const startMs = budget.now();
  if (startMs > budget.deadlineMs) {
    return { partition: { ...base, result: 'unknown', reason: 'timeout', elapsedMs: 0 } };
  }
  const outcome = searchLinearization(model, operations, budget);
  const elapsedMs = budget.now() - startMs;
  switch (outcome.result) {
    case 'unknown':
      return { partition: { ...base, result: 'unknown', reason: outcome.reason, elapsedMs } };
    case 'ok':
      return { partition: { ...base, result: 'ok', elapsedMs } };
    case 'illegal':
      return {
        partition: { ...base, result: 'illegal', elapsedMs },
        counterexample: buildCounterexample(model, key, operations, outcome.longest),
      };
  }
}

/** Programmer errors in a hand-built history would otherwise show up as wrong verdicts. */
function validate(history: readonly Operation<unknown, unknown>[]): void {
  const ids = new Set<number>();
  for (const op of history) {
    const problem = ids.has(op.id)
      ? 'a duplicate id'
      : !(op.return >= op.call)
        ? `return (${op.return}) before call (${op.call})`
        : (op.return === Infinity) !== (op.output === Indeterminate)
          ? 'a return of Infinity but an output, or the reverse (indeterminate ones never return)'
          : undefined;
    if (problem !== undefined) {
      throw new SkeinError(
        CoreErrorCode.InvalidArgument,
        `operation ${op.id} has ${problem}; fix the history (HistoryRecorder builds valid ones)`,
        { details: { id: op.id } },
      );
    }
    ids.add(op.id);
  }
}
