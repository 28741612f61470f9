import { Indeterminate, type Operation } from './history.ts';

/** The outcome of applying one operation to a model state. */
export type StepResult<State> = { readonly ok: true; readonly state: State } | { readonly ok: false };

/**
 * A sequential specification: what a correct single-copy object would do, one operation at a
 * time. The checker asks whether the concurrent history can be explained by some order of its
 * operations, consistent with real time, that this specification accepts.
 *
 * States must be treated as immutable values: `step` returns a new state and never changes the
 * one it was given, because the checker keeps old states to backtrack to.
 */
export interface Model<State, Input, Output> {
  /** The state before any operation. */
  init(): State;
  /**
   * Apply `input` to `state`. Returns `{ ok: false }` when a correct object in `state` could not
   * have produced `output`. When `output` is {@link Indeterminate} (the operation timed out),
   * accept any output the input allows and return the state the operation would leave.
   */
  step(state: State, input: Input, output: Output | typeof Indeterminate): StepResult<State>;
  /** Equality of states, for the memo cache. Must agree with `hash`. */
  equal(a: State, b: State): boolean;
  /** A 32-bit hash of a state, for the memo cache. Equal states must hash equal. */
  hash(state: State): number;
  /**
   * Split a history into independent sub-histories, keyed by name (P-compositionality: a history
   * is linearizable iff each part is, when the parts touch disjoint objects, such as the keys of
   * a map). Without it the whole history is one part named `"all"`.
   */
  partition?(
    operations: readonly Operation<Input, Output>[],
  ): ReadonlyMap<string, Operation<Input, Output>[]>;
  /**
   * True when the input never changes the state (a read). An indeterminate read constrains
   * nothing, so the checker drops it instead of searching over where it might go.
   */
  readOnly?(input: Input): boolean;
  /** A short readable form such as `put(x, 1)` or `get(x) -> 1`, for counterexamples. */
  describeOperation?(input: Input, output: Output | typeof Indeterminate): string;
  /** A short readable form of a state, for counterexamples. */
  describeState?(state: State): string;
}

/** `describeOperation` of the model, or a JSON rendering when the model has none. */
export function describeOperation<State, Input, Output>(
  model: Model<State, Input, Output>,
  input: Input,
  output: Output | typeof Indeterminate,
): string {
  if (model.describeOperation !== undefined) return model.describeOperation(input, output);
  return `${render(input)} -> ${output === Indeterminate ? '? (indeterminate)' : render(output)}`;
}

/** `describeState` of the model, or a JSON rendering when the model has none. */
export function describeState<State, Input, Output>(
  model: Model<State, Input, Output>,
  state: State,
): string {
  return model.describeState !== undefined ? model.describeState(state) : render(state);
}

function render(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value);
  } catch {
    return '(unprintable)';
  }
}
