import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ModelError, ReferenceModel } from './reference-model.ts';
import { kv, snapshotBytes } from './test-helpers.ts';
import type { Compare, KeySelector, TxnOp } from './types.ts';

// A small alphabet so that ops collide; two keys whose UTF-16 and UTF-8 orders disagree.
const KEYS = ['a', 'ab', 'b', 'ba', '\uFF21', '\u{1F600}'];
const MAX_KEYS = 4;

const key = fc.constantFrom(...KEYS);
const value = fc.constantFrom('', 'x', 'y', '\u{1F600}');
const selector: fc.Arbitrary<KeySelector> = fc.oneof(
  key.map((k) => ({ key: k })),
  fc.constantFrom('', 'a', 'b').map((k) => ({ key: k, prefix: true })),
  fc
    .tuple(fc.constantFrom('', 'a', 'b', '\uFF00'), fc.constantFrom('b', 'c', '\0', '\u{1F000}'))
    .map(([k, end]) => ({ key: k, rangeEnd: end })),
);
const leaseRef = fc.nat({ max: 4 }); // 0 = no lease; others may or may not exist
const compare: fc.Arbitrary<Compare> = fc.oneof(
  fc.record({ key, target: fc.constant('value' as const), op: fc.constantFrom('=', '!=', '<', '>'), value }),
  fc.record({
    key,
    target: fc.constantFrom('version', 'createRevision', 'modRevision', 'lease'),
    op: fc.constantFrom('=', '!=', '<', '>'),
    value: fc.nat({ max: 6 }),
  }),
);
const txnOp: fc.Arbitrary<TxnOp> = fc.oneof(
  fc.record({ put: fc.record({ key, value, lease: leaseRef, prevKv: fc.boolean() }) }),
  fc.record({ range: selector }),
  fc.record({ deleteRange: selector.map((s) => ({ ...s, prevKv: true })) }),
);

type Op =
  | { op: 'put'; key: string; value: string; lease: number }
  | { op: 'delete'; selector: KeySelector }
  | { op: 'txn'; compare: Compare[]; success: TxnOp[]; failure: TxnOp[] }
  | { op: 'grant'; id: number }
  | { op: 'revoke'; id: number }
  | { op: 'compact'; back: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), key, value, lease: leaseRef }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), selector }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('txn' as const),
      compare: fc.array(compare, { maxLength: 2 }),
      success: fc.array(txnOp, { maxLength: 3 }),
      failure: fc.array(txnOp, { maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('grant' as const), id: fc.nat({ max: 4 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('revoke' as const), id: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('compact' as const), back: fc.nat({ max: 4 }) }) },
);

/** Run `fn` and return its result or the error code, so that both sides can be compared. */
function outcome<T>(fn: () => T): { ok: T } | { code: string } {
  try {
    return { ok: fn() };
  } catch (error) {
    if (error instanceof ModelError) return { code: error.code };
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return { code };
    throw error;
  }
}

function apply(t: ReturnType<typeof kv>, m: ReferenceModel, o: Op): void {
  const before = snapshotBytes(t.store);
  let real: { ok: unknown } | { code: string };
  let model: { ok: unknown } | { code: string };
  switch (o.op) {
    case 'put':
      real = outcome(() => t.put(o.key, o.value, { lease: o.lease }).revision);
      model = outcome(() => m.put(o.key, o.value, o.lease));
      break;
    case 'delete':
      real = outcome(() => {
        const r = t.del(o.selector);
        return [r.deleted, r.revision];
      });
      model = outcome(() => [m.deleteRange(o.selector), m.revision]);
      break;
    case 'txn':
      real = outcome(() => {
        const r = t.txn({ compare: o.compare, success: o.success, failure: o.failure });
        return [r.succeeded, r.revision];
      });
      model = outcome(() => [m.txn(o.compare, o.success, o.failure), m.revision]);
      break;
    case 'grant':
      real = outcome(() => t.grant(10, o.id).id);
      model = outcome(() => m.grant(10, o.id));
      break;
    case 'revoke':
      real = outcome(() => t.revoke(o.id).revision);
      model = outcome(() => {
        m.revoke(o.id);
        return m.revision;
      });
      break;
    case 'compact': {
      const at = Math.max(0, m.revision - o.back);
      real = outcome(() => t.compact(at).revision);
      model = outcome(() => {
        m.compact(at);
        return m.revision;
      });
      break;
    }
  }
  assert.deepEqual(real, model, JSON.stringify(o));
  if ('code' in real) assert.deepEqual(snapshotBytes(t.store), before, `rejected ${o.op} changed the state`);
}

function check(
  t: ReturnType<typeof kv>,
  m: ReferenceModel,
  probe: { from: number; max: number; sel: KeySelector },
): void {
  const s = t.store;
  assert.equal(s.revision, m.revision);
  assert.equal(s.compactRevision, m.compactRevision);
  assert.equal(s.leaseCount, m.leases.size);
  const all = { key: '', prefix: true } as const;
  assert.deepEqual(s.range(all).kvs, m.range(all));
  assert.equal(s.keyCount, m.range(all).length);
  const limited = s.range({ ...probe.sel, limit: 2 });
  const expected = m.range(probe.sel);
  assert.deepEqual(
    [limited.kvs, limited.count, limited.more],
    [expected.slice(0, 2), expected.length, expected.length > 2],
  );
  for (let r = Math.max(1, m.compactRevision); r <= m.revision; r++) {
    assert.deepEqual(
      outcome(() => s.range({ ...probe.sel, revision: r }).kvs),
      outcome(() => m.range(probe.sel, r)),
    );
  }
  const from = Math.min(probe.from, m.revision + 1);
  assert.deepEqual(
    outcome(() => s.eventsSince(probe.sel, from, true, probe.max)),
    outcome(() => m.events(probe.sel, from, probe.max)),
  );
  for (const id of m.leases.keys()) assert.deepEqual(s.lease(id)?.keys, m.leaseKeys(id));
}

describe('KvStore against a naive reference model', () => {
  it('agrees on results, errors, ranges at every revision and events after every command', () => {
    const probe = fc.record({
      from: fc.nat({ max: 30 }),
      max: fc.integer({ min: 1, max: 4 }),
      sel: selector,
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(op, probe), { maxLength: 30 }), (steps) => {
        const t = kv({ maxKeys: MAX_KEYS });
        const m = new ReferenceModel(MAX_KEYS);
        for (const [o, p] of steps) {
          apply(t, m, o);
          check(t, m, p);
        }
      }),
      { numRuns: Number(process.env.SKEIN_KV_MODEL_RUNS ?? 300) },
    );
  });
});
