import { Indeterminate, type Operation } from './history.ts';
import type { Model, StepResult } from './linearizability-model.ts';
import { canonical, jsonEqual, jsonHash } from './models/json.ts';

/**
 * Operations on an etcd-like store whose keys are grouped as `<group>/<name>` (e.g. `g3/a`).
 * Single-key operations (`get`, `put`, `cas`, `delete`) plus multi-key ones confined to one
 * group, each of which the store runs at a single revision: `put-all` (a txn with one put per
 * key), `read-all` (a range over the group's prefix) and `delete-all` (a delete-range over it).
 *
 * `null` means "absent": a `get` of a missing key returns `null`; `cas` with `expected: null`
 * swaps only when the key is absent.
 */
export type KvGroupInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'put-all'; readonly group: string; readonly values: Readonly<Record<string, string>> }
  | { readonly op: 'read-all'; readonly group: string }
  | { readonly op: 'delete-all'; readonly group: string };

/**
 * `get`: the value or `null`; `cas`: whether it swapped; `delete`: whether the key existed;
 * `read-all`: the group's live keys and values; `delete-all`: how many keys it deleted;
 * `put`/`put-all`: `undefined`.
 */
export type KvGroupOutput = string | null | boolean | number | Readonly<Record<string, string>> | undefined;

/** The live keys of one group and their values (absent keys are left out). */
export type KvGroupState = Readonly<Record<string, string>>;

type GroupOperation = Operation<KvGroupInput, KvGroupOutput>;

/** The group of `key`: everything before its first `/` (the whole key when it has none). */
export function groupOf(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? key : key.slice(0, slash);
}

/** The key prefix that selects exactly the keys of `group`. */
export function groupPrefix(group: string): string {
  return `${group}/`;
}

function groupOfInput(input: KvGroupInput): string {
  return 'key' in input ? groupOf(input.key) : input.group;
}

function without(state: KvGroupState, key: string): KvGroupState {
  return Object.fromEntries(Object.entries(state).filter(([k]) => k !== key));
}

function step(
  state: KvGroupState,
  input: KvGroupInput,
  output: KvGroupOutput | typeof Indeterminate,
): StepResult<KvGroupState> {
  const known = output !== Indeterminate;
  const accept = (ok: boolean, next: KvGroupState = state): StepResult<KvGroupState> =>
    ok ? { ok: true, state: next } : { ok: false };
  switch (input.op) {
    case 'get':
      return accept(!known || output === (state[input.key] ?? null));
    case 'put':
      return accept(true, { ...state, [input.key]: input.value });
    case 'cas': {
      // An indeterminate CAS did whatever the state dictates: swap on a match, nothing otherwise.
      const swapped = (state[input.key] ?? null) === input.expected;
      return accept(!known || output === swapped, swapped ? { ...state, [input.key]: input.value } : state);
    }
    case 'delete':
      return accept(!known || output === Object.hasOwn(state, input.key), without(state, input.key));
    case 'put-all':
      return accept(true, { ...state, ...input.values });
    case 'read-all':
      return accept(!known || (isRecord(output) && jsonEqual(output, state)));
    case 'delete-all':
      return accept(!known || output === Object.keys(state).length, {});
  }
}

function isRecord(value: KvGroupOutput): value is Readonly<Record<string, string>> {
  return typeof value === 'object' && value !== null;
}

function partition(operations: readonly GroupOperation[]): ReadonlyMap<string, GroupOperation[]> {
  const byGroup = new Map<string, GroupOperation[]>();
  for (const op of operations) {
    const group = groupOfInput(op.input);
    const part = byGroup.get(group);
    if (part === undefined) byGroup.set(group, [op]);
    else part.push(op);
  }
  return byGroup;
}

function describeOperation(input: KvGroupInput, output: KvGroupOutput | typeof Indeterminate): string {
  const result = output === Indeterminate ? ' -> ?' : output === undefined ? '' : ` -> ${canonical(output)}`;
  switch (input.op) {
    case 'get':
    case 'delete':
      return `${input.op}(${input.key})${result}`;
    case 'put':
      return `put(${input.key}, ${input.value})`;
    case 'cas':
      return `cas(${input.key}, ${canonical(input.expected)} => ${input.value})${result}`;
    case 'put-all':
      return `put-all(${canonical(input.values)})`;
    case 'read-all':
    case 'delete-all':
      return `${input.op}(${groupPrefix(input.group)}*)${result}`;
  }
}

/**
 * The sequential specification of {@link KvGroupInput} operations. The history is partitioned
 * per group, not per key: a multi-key operation touches several keys of its group, so a group is
 * the smallest independent object (P-compositionality), and partitioning per key would let the
 * checker split a transaction in two and miss a torn one. Groups stay small (a few keys) so the
 * search stays cheap.
 */
export const kvGroupModel: Model<KvGroupState, KvGroupInput, KvGroupOutput> = {
  init: () => ({}),
  step,
  equal: jsonEqual,
  hash: jsonHash,
  partition,
  readOnly: (input) => input.op === 'get' || input.op === 'read-all',
  describeOperation,
  describeState: (state) => canonical(state),
};
