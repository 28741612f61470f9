/**
 * Test support for the linearizability checker (not exported): compact hand-written operations,
 * and histories generated from a real sequential execution, which are linearizable by construction.
 */
import type { Random } from '../core/random.ts';
import { Indeterminate, type ClientId, type Operation } from './history.ts';
import type { KvInput, KvOutput } from './models/kv.ts';
import type { JsonValue } from './models/json.ts';

let nextId = 0;

/** An operation from `call` to `ret`; `ret: Infinity` (or omitted output) makes it indeterminate. */
export function op<Input, Output>(
  clientId: ClientId,
  input: Input,
  output: Output | typeof Indeterminate,
  call: number,
  ret: number,
): Operation<Input, Output> {
  return output === Indeterminate
    ? { id: nextId++, clientId, input, output, call, return: Infinity }
    : { id: nextId++, clientId, input, output, call, return: ret };
}

/** One operation of a generated history, before it is given an interval. */
export interface PlannedOp {
  readonly clientId: number;
  readonly input: KvInput;
  /** The operation's linearization point: when it took effect on the real map. */
  readonly pointMs: number;
  readonly callMs: number;
  readonly returnMs: number;
  /** Timed out: the client never learns the output. */
  readonly timedOut: boolean;
  /** For a timed-out operation: whether it took effect anyway. */
  readonly applied: boolean;
}

/** Run `plan` against a real `Map` in linearization-point order and record what each op returned. */
export function executeOnMap(plan: readonly PlannedOp[]): Operation<KvInput, KvOutput>[] {
  const map = new Map<string, JsonValue>();
  const byPoint = plan
    .map((planned, index) => ({ planned, index }))
    .sort((a, b) => a.planned.pointMs - b.planned.pointMs);
  const outputs: KvOutput[] = new Array<KvOutput>(plan.length);
  for (const { planned, index } of byPoint) {
    if (planned.timedOut && !planned.applied) continue;
    outputs[index] = applyToMap(map, planned.input);
  }
  return plan.map((planned, id) =>
    planned.timedOut
      ? {
          id,
          clientId: planned.clientId,
          input: planned.input,
          output: Indeterminate,
          call: planned.callMs,
          return: Infinity,
        }
      : {
          id,
          clientId: planned.clientId,
          input: planned.input,
          output: outputs[id],
          call: planned.callMs,
          return: planned.returnMs,
          callMs: planned.callMs,
          returnMs: planned.returnMs,
        },
  );
}

function applyToMap(map: Map<string, JsonValue>, input: KvInput): KvOutput {
  const current = map.get(input.key) ?? null;
  switch (input.op) {
    case 'get':
      return current;
    case 'put':
      map.set(input.key, input.value);
      return undefined;
    case 'delete':
      return map.delete(input.key);
    case 'cas': {
      if (current !== input.expected) return false;
      map.set(input.key, input.value);
      return true;
    }
  }
}

/** Options for {@link concurrentKvHistory}. */
export interface ConcurrentKvOptions {
  operations: number;
  keys: number;
  clients: number;
  /** Probability that an operation times out. */
  timeoutRate: number;
}

/**
 * A realistic history: `clients` clients each issue one operation at a time, each taking 1–20 ms,
 * with its linearization point somewhere inside its interval; the map is the real execution.
 */
export function concurrentKvHistory(
  random: Random,
  options: ConcurrentKvOptions,
): Operation<KvInput, KvOutput>[] {
  const plan: PlannedOp[] = [];
  const clientTimeMs = new Array<number>(options.clients).fill(0);
  for (let i = 0; i < options.operations; i++) {
    const clientId = i % options.clients;
    const callMs = clientTimeMs[clientId]! + random.int(5);
    const returnMs = callMs + 1 + random.int(20);
    clientTimeMs[clientId] = returnMs;
    const timedOut = random.chance(options.timeoutRate);
    plan.push({
      clientId,
      input: randomKvInput(random, `k${random.int(options.keys)}`, i),
      // Distinct points (the fraction) so the execution order is unambiguous.
      pointMs: random.intBetween(callMs, returnMs - 1) + i / (options.operations + 1),
      callMs,
      returnMs,
      timedOut,
      applied: timedOut && random.chance(0.5),
    });
  }
  return executeOnMap(plan);
}

/** A random operation on `key`; values are small integers so reads and CAS often match. */
export function randomKvInput(random: Random, key: string, unique: number): KvInput {
  const kind = random.int(10);
  if (kind < 4) return { op: 'get', key };
  if (kind < 7) return { op: 'put', key, value: unique % 7 };
  if (kind < 9)
    return { op: 'cas', key, expected: random.chance(0.2) ? null : random.int(7), value: unique % 7 };
  return { op: 'delete', key };
}
