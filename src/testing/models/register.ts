import { Indeterminate } from '../history.ts';
import type { Model } from '../linearizability-model.ts';
import { canonical, jsonEqual, jsonHash, type JsonValue } from './json.ts';

/** An operation on a single register. */
export type RegisterInput = { readonly op: 'put'; readonly value: JsonValue } | { readonly op: 'get' };

/** A `get` returns the value read (`null` before any put); a `put` returns nothing (`undefined`). */
export type RegisterOutput = JsonValue | undefined;

/**
 * A single read/write register holding a JSON value, initially `null`. The state is the value.
 *
 * ```ts
 * const op = history.invoke('c1', { op: 'get' });
 * history.ok(op, 42);
 * checkLinearizable(registerModel, history.operations());
 * ```
 */
export const registerModel: Model<JsonValue, RegisterInput, RegisterOutput> = {
  init: () => null,
  step(state, input, output) {
    if (input.op === 'put') return { ok: true, state: input.value };
    const ok = output === Indeterminate || (output !== undefined && jsonEqual(output, state));
    return ok ? { ok: true, state } : { ok: false };
  },
  equal: jsonEqual,
  hash: jsonHash,
  readOnly: (input) => input.op === 'get',
  describeOperation(input, output) {
    if (input.op === 'put') return `put(${canonical(input.value)})`;
    return `get() -> ${output === Indeterminate || output === undefined ? '?' : canonical(output)}`;
  },
  describeState: canonical,
};
