import { Indeterminate, type Operation } from '../history.ts';
import type { Model, StepResult } from '../linearizability-model.ts';
import { canonical, jsonEqual, jsonHash, type JsonValue } from './json.ts';

/**
 * An operation on a key-value map. `null` stands for "absent" throughout: a `get` of a missing
 * key returns `null`, and a `cas` with `expected: null` succeeds only when the key is absent.
 */
export type KvInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: JsonValue }
  | { readonly op: 'cas'; readonly key: string; readonly expected: JsonValue; readonly value: JsonValue }
  | { readonly op: 'delete'; readonly key: string };

/**
 * What each operation returns: `get` the value (`null` when absent); `cas` `true` when it
 * swapped, `false` when the current value differed; `put` nothing (`undefined`); `delete`
 * nothing, or a boolean saying whether the key existed (checked when given).
 */
export type KvOutput = JsonValue | undefined;

type KvOperation = Operation<KvInput, KvOutput>;

function step(
  state: JsonValue,
  input: KvInput,
  output: KvOutput | typeof Indeterminate,
): StepResult<JsonValue> {
  const known = output !== Indeterminate;
  switch (input.op) {
    case 'get':
      return !known || (output !== undefined && jsonEqual(output, state))
        ? { ok: true, state }
        : { ok: false };
    case 'put':
      return { ok: true, state: input.value };
    case 'delete':
      return !known || output === undefined || output === (state !== null)
        ? { ok: true, state: null }
        : { ok: false };
    case 'cas': {
      // An indeterminate CAS did whatever the state dictates: swap on a match, nothing otherwise.
      const swapped = jsonEqual(state, input.expected);
      if (known && output !== swapped) return { ok: false };
      return { ok: true, state: swapped ? input.value : state };
    }
  }
}

function partition(operations: readonly KvOperation[]): ReadonlyMap<string, KvOperation[]> {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of operations) {
    const part = byKey.get(op.input.key);
    if (part === undefined) byKey.set(op.input.key, [op]);
    else part.push(op);
  }
  return byKey;
}

function describeOperation(input: KvInput, output: KvOutput | typeof Indeterminate): string {
  const result = output === Indeterminate || output === undefined ? '' : ` -> ${canonical(output)}`;
  switch (input.op) {
    case 'get':
      return `get(${input.key})${output === Indeterminate ? ' -> ?' : result}`;
    case 'put':
      return `put(${input.key}, ${canonical(input.value)})`;
    case 'delete':
      return `delete(${input.key})${result}`;
    case 'cas':
      return `cas(${input.key}, ${canonical(input.expected)} => ${canonical(input.value)})${result}`;
  }
}

/**
 * A key-value map with `get`, `put`, `cas` (compare-and-set) and `delete` over JSON values.
 *
 * Keys are independent objects, so the model partitions a history per key and its state is the
 * value of one key (`null` when absent): each partition is checked on its own, which keeps the
 * search small however many keys a history touches.
 */
export const kvModel: Model<JsonValue, KvInput, KvOutput> = {
  init: () => null,
  step,
  equal: jsonEqual,
  hash: jsonHash,
  partition,
  readOnly: (input) => input.op === 'get',
  describeOperation,
  describeState: (state) => (state === null ? '(absent)' : canonical(state)),
};
