// Transactions: every compare target with every operator, both branches, atomic revisions, and the
// rule that a transaction writes each key at most once.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { KvErrorCode } from '../../src/kv/errors.ts';
import type { Compare, CompareOp, CompareTarget } from '../../src/kv/types.ts';
import { rejectsWith, type SuiteContext } from './helpers.ts';

const ops: readonly CompareOp[] = ['=', '!=', '<', '>'];

function holds(actual: number | string, op: CompareOp, operand: number | string): boolean {
  switch (op) {
    case '=':
      return actual === operand;
    case '!=':
      return actual !== operand;
    case '<':
      return actual < operand;
    case '>':
      return actual > operand;
  }
}

export function txnCases(ctx: SuiteContext): void {
  it('compare: each target with each operator, below, at and above the actual value', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('cmp')}k`;
    const lease = await store.grantLease(30);
    const created = await store.put({ key, value: 'm' });
    const updated = await store.put({ key, value: 'n', lease: lease.id });
    const actual: Record<CompareTarget, number | string> = {
      value: 'n',
      version: 2,
      createRevision: created.revision,
      modRevision: updated.revision,
      lease: lease.id,
    };
    const operands = (target: CompareTarget): (number | string)[] =>
      target === 'value' ? ['m', 'n', 'o'] : [-1, 0, 1].map((d) => (actual[target] as number) + d);
    for (const target of Object.keys(actual) as CompareTarget[]) {
      for (const op of ops) {
        for (const value of operands(target)) {
          const compare: Compare = { key, target, op, value };
          const response = await store.txn({ compare: [compare], success: [], failure: [] });
          const expected = holds(actual[target], op, value);
          assert.equal(
            response.succeeded,
            expected,
            `${target} ${String(actual[target])} ${op} ${String(value)}`,
          );
        }
      }
    }
    await store.revokeLease(lease.id);
  });

  it('compare on a missing key: version, revisions and lease are 0; value per backend', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('cmp-missing')}k`;
    const compare: Compare[] = [
      { key, target: 'version', op: '=', value: 0 },
      { key, target: 'createRevision', op: '=', value: 0 },
      { key, target: 'modRevision', op: '=', value: 0 },
      { key, target: 'lease', op: '=', value: 0 },
    ];
    assert.equal((await store.txn({ compare, success: [], failure: [] })).succeeded, true);
    const valueEmpty = await store.txn({
      compare: [{ key, target: 'value', op: '=', value: '' }],
      success: [],
      failure: [],
    });
    const valueNotEmpty = await store.txn({
      compare: [{ key, target: 'value', op: '!=', value: '' }],
      success: [],
      failure: [],
    });
    if (ctx.expect.valueCompareOnMissingKeyFails) {
      assert.equal(valueEmpty.succeeded, false, 'etcd: every value compare on a missing key fails');
      assert.equal(valueNotEmpty.succeeded, false);
    } else {
      assert.equal(valueEmpty.succeeded, true, "a missing key's value is ''");
      assert.equal(valueNotEmpty.succeeded, false);
    }
  });

  it('success branch: put, range and deleteRange at one revision; a range sees the earlier put', async () => {
    const { store } = ctx;
    const ns = ctx.ns('txn-success');
    const before = await store.put({ key: `${ns}gone`, value: 'x' });
    const response = await store.txn({
      compare: [{ key: `${ns}gone`, target: 'value', op: '=', value: 'x' }],
      success: [
        { put: { key: `${ns}a`, value: '1' } },
        { range: { key: `${ns}a` } },
        { deleteRange: { key: `${ns}gone`, prevKv: true } },
        { put: { key: `${ns}b`, value: '2', prevKv: true } },
      ],
      failure: [{ put: { key: `${ns}failed`, value: '!' } }],
    });
    assert.equal(response.succeeded, true);
    assert.equal(response.revision, before.revision + 1, 'one revision for the whole transaction');
    const [put, range, del, put2] = response.responses;
    assert.ok(put !== undefined && 'put' in put);
    assert.ok(range !== undefined && 'range' in range);
    assert.equal(range.range.kvs[0]?.value, '1');
    assert.equal(range.range.kvs[0].modRevision, response.revision);
    assert.ok(del !== undefined && 'deleteRange' in del);
    assert.equal(del.deleteRange.deleted, 1);
    assert.equal(del.deleteRange.prevKvs?.[0]?.value, 'x');
    assert.ok(put2 !== undefined && 'put' in put2);
    assert.equal(put2.put.prevKv, undefined);
    const a = await store.get(`${ns}a`);
    const b = await store.get(`${ns}b`);
    assert.equal(a?.modRevision, response.revision);
    assert.equal(b?.modRevision, response.revision);
    assert.equal(await store.get(`${ns}failed`), null);
  });

  it('failure branch runs when any compare fails; a read-only transaction is not a write', async () => {
    const { store } = ctx;
    const ns = ctx.ns('txn-failure');
    const start = await store.put({ key: `${ns}k`, value: 'v' });
    const response = await store.txn({
      compare: [
        { key: `${ns}k`, target: 'value', op: '=', value: 'v' },
        { key: `${ns}k`, target: 'version', op: '>', value: 1 },
      ],
      success: [{ put: { key: `${ns}k`, value: 'wrong' } }],
      failure: [{ range: { key: `${ns}k` } }],
    });
    assert.equal(response.succeeded, false);
    assert.equal(response.revision, start.revision, 'reads only: the revision does not move');
    const [range] = response.responses;
    assert.ok(range !== undefined && 'range' in range);
    assert.equal(range.range.kvs[0]?.value, 'v');
    const empty = await store.txn({ compare: [], success: [], failure: [] });
    assert.equal(empty.succeeded, true);
    assert.equal(empty.revision, start.revision);
  });

  it('a transaction may write each key at most once: SKEIN_DUPLICATE_KEY, nothing applied', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('dup')}k`;
    await rejectsWith(
      store.txn({
        compare: [],
        success: [{ put: { key, value: '1' } }, { put: { key, value: '2' } }],
        failure: [],
      }),
      KvErrorCode.DuplicateKey,
    );
    await rejectsWith(
      store.txn({
        compare: [],
        success: [{ put: { key, value: '1' } }, { deleteRange: { key } }],
        failure: [],
      }),
      KvErrorCode.DuplicateKey,
    );
    assert.equal(await store.get(key), null);
  });
}
