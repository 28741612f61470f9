import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Indeterminate, type Operation } from './history.ts';
import { checkLinearizable } from './linearizability.ts';
import { executeOnMap, type PlannedOp } from './linearizability-fixtures.ts';
import type { JsonValue } from './models/json.ts';
import { kvModel, type KvInput, type KvOutput } from './models/kv.ts';

type KvOp = Operation<KvInput, KvOutput>;

const keys = ['a', 'b', 'c'];
const smallValue = fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 3 }));

const kvInput: fc.Arbitrary<KvInput> = fc.oneof(
  fc.record({ op: fc.constant('get' as const), key: fc.constantFrom(...keys) }),
  fc.record({
    op: fc.constant('put' as const),
    key: fc.constantFrom(...keys),
    value: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({
    op: fc.constant('cas' as const),
    key: fc.constantFrom(...keys),
    expected: smallValue,
    value: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...keys) }),
);

/**
 * Operations in the order they took effect (their linearization points, 10 ms apart), each given
 * an interval around its point that may stretch far enough to overlap many others.
 */
const plannedHistory: fc.Arbitrary<PlannedOp[]> = fc
  .array(
    fc.record({
      clientId: fc.integer({ min: 0, max: 4 }),
      input: kvInput,
      beforeMs: fc.integer({ min: 0, max: 40 }),
      afterMs: fc.integer({ min: 0, max: 40 }),
      timedOut: fc.boolean().chain((t) => (t ? fc.boolean() : fc.constant(false))),
      applied: fc.boolean(),
    }),
    { minLength: 1, maxLength: 40 },
  )
  .map((ops) =>
    ops.map((o, i) => {
      const pointMs = 10 * i + 5;
      return { ...o, pointMs, callMs: pointMs - o.beforeMs, returnMs: pointMs + o.afterMs };
    }),
  );

describe('checkLinearizable properties (kv model)', () => {
  it('accepts every history produced by a real map with intervals around the true points', () => {
    fc.assert(
      fc.property(plannedHistory, (plan) => {
        const result = checkLinearizable(kvModel, executeOnMap(plan));
        assert.equal(result.result, 'ok', result.counterexample?.text);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects such a history once one read returns a value that was never written', () => {
    const withRead = fc
      .tuple(plannedHistory, fc.nat())
      .map(([plan, pick]) => ({ history: executeOnMap(plan), pick }))
      .filter(({ history }) => history.some(isKnownRead));
    fc.assert(
      fc.property(withRead, ({ history, pick }) => {
        const reads = history.filter(isKnownRead);
        const victim = reads[pick % reads.length]!;
        const mutated = history.map((o) => (o === victim ? { ...o, output: 'never written' } : o));
        const result = checkLinearizable(kvModel, mutated);
        assert.equal(result.result, 'illegal');
        const counterexample = result.counterexample!;
        assert.equal(counterexample.key, victim.input.key);
        assert.ok(counterexample.blocked.length > 0, counterexample.text);
        assert.ok(!counterexample.linearized.some((o) => o.id === victim.id), counterexample.text);
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with a brute-force search on small histories with arbitrary outputs', () => {
    const verdicts = { ok: 0, illegal: 0 };
    // Few keys and outputs of the right kind, so that histories are often close calls.
    const maybe = <T>(known: fc.Arbitrary<T>) =>
      fc.oneof({ arbitrary: known, weight: 4 }, fc.constant<typeof Indeterminate>(Indeterminate));
    const outputFor = (input: KvInput): fc.Arbitrary<KvOutput | typeof Indeterminate> =>
      input.op === 'get'
        ? maybe(smallValue)
        : input.op === 'cas'
          ? maybe(fc.boolean())
          : input.op === 'delete'
            ? maybe(fc.oneof(fc.boolean(), fc.constant(undefined)))
            : maybe(fc.constant(undefined));
    const arbitraryOp = fc
      .record({
        input: kvInput.map((input) => ({ ...input, key: input.key === 'c' ? 'a' : input.key })),
        callMs: fc.integer({ min: 0, max: 20 }),
        durationMs: fc.integer({ min: 0, max: 10 }),
      })
      .chain((r) => outputFor(r.input).map((output): RawOp => ({ ...r, output })));
    fc.assert(
      fc.property(fc.array(arbitraryOp, { maxLength: 8 }), (raw) => {
        const history: KvOp[] = raw.map((r, id) => ({
          id,
          clientId: id,
          input: r.input,
          output: r.output,
          call: r.callMs,
          return: r.output === Indeterminate ? Infinity : r.callMs + r.durationMs,
        }));
        const expected = bruteForce(history, new Map(), new Set()) ? 'ok' : 'illegal';
        const result = checkLinearizable(kvModel, history);
        assert.equal(result.result, expected, JSON.stringify(raw));
        verdicts[expected]++;
      }),
      { numRuns: 1500 },
    );
    // The generator must exercise both answers, or the agreement proves little.
    assert.ok(verdicts.ok > 150 && verdicts.illegal > 150, JSON.stringify(verdicts));
  });
});

interface RawOp {
  readonly input: KvInput;
  readonly output: KvOutput | typeof Indeterminate;
  readonly callMs: number;
  readonly durationMs: number;
}

function isKnownRead(o: KvOp): boolean {
  return o.input.op === 'get' && o.output !== Indeterminate;
}

/**
 * The definition, executed: try every operation that real time allows next (none still pending
 * returned before it was invoked) against a real map; indeterminate operations may also be left out.
 */
function bruteForce(
  history: readonly KvOp[],
  map: ReadonlyMap<string, JsonValue>,
  done: ReadonlySet<number>,
): boolean {
  const pending = history.filter((o) => !done.has(o.id));
  if (pending.every((o) => o.output === Indeterminate)) return true;
  return pending.some((candidate) => {
    if (pending.some((other) => other.return < candidate.call)) return false;
    const next = new Map(map);
    if (!applyAndCheck(next, candidate)) return false;
    return bruteForce(history, next, new Set([...done, candidate.id]));
  });
}

function applyAndCheck(map: Map<string, JsonValue>, o: KvOp): boolean {
  const current = map.get(o.input.key) ?? null;
  const known = o.output !== Indeterminate;
  switch (o.input.op) {
    case 'get':
      return !known || o.output === current;
    case 'put':
      map.set(o.input.key, o.input.value);
      return true;
    case 'delete':
      map.delete(o.input.key);
      return !known || o.output === undefined || o.output === (current !== null);
    case 'cas':
      if (current === o.input.expected) map.set(o.input.key, o.input.value);
      return !known || o.output === (current === o.input.expected);
  }
}
