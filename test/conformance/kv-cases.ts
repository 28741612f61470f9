// Keys, values, revisions, versions, ranges, historical reads and compaction.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { KvErrorCode } from '../../src/kv/errors.ts';
import { rejectsWith, type SuiteContext } from './helpers.ts';

export function kvCases(ctx: SuiteContext): void {
  it('put and get: one revision per write, createRevision, modRevision, version', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('put')}k`;
    assert.equal(await store.get(key), null);
    const first = await store.put({ key, value: 'v1' });
    const second = await store.put({ key, value: 'v2' });
    assert.equal(second.revision, first.revision + 1);
    assert.equal(first.prevKv, undefined);
    assert.deepEqual(await store.get(key), {
      key,
      value: 'v2',
      createRevision: first.revision,
      modRevision: second.revision,
      version: 2,
      lease: 0,
    });
  });

  it('put with prevKv returns the overwritten version, none for a new key', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('prev')}k`;
    const created = await store.put({ key, value: 'old', prevKv: true });
    assert.equal(created.prevKv, undefined);
    const updated = await store.put({ key, value: 'new', prevKv: true });
    assert.deepEqual(updated.prevKv, {
      key,
      value: 'old',
      createRevision: created.revision,
      modRevision: created.revision,
      version: 1,
      lease: 0,
    });
  });

  it('delete: a tombstone resets the key; deleting nothing does not move the revision', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('del')}k`;
    await store.put({ key, value: 'a' });
    const deleted = await store.deleteRange({ key, prevKv: true });
    assert.equal(deleted.deleted, 1);
    assert.equal(deleted.prevKvs?.[0]?.value, 'a');
    const nothing = await store.deleteRange({ key });
    assert.equal(nothing.deleted, 0);
    assert.equal(nothing.revision, deleted.revision, 'a delete that deleted nothing is not a write');
    const again = await store.put({ key, value: 'b' });
    assert.equal(again.revision, deleted.revision + 1);
    const kv = await store.get(key);
    assert.equal(kv?.createRevision, again.revision);
    assert.equal(kv.version, 1);
  });

  it('deleteRange by prefix and by rangeEnd, with prevKvs, all at one revision', async () => {
    const { store } = ctx;
    const ns = ctx.ns('delrange');
    for (const k of ['a', 'b', 'c', 'd']) await store.put({ key: `${ns}${k}`, value: k });
    const byRange = await store.deleteRange({ key: `${ns}a`, rangeEnd: `${ns}c`, prevKv: true });
    assert.equal(byRange.deleted, 2);
    assert.deepEqual(
      byRange.prevKvs?.map((kv) => kv.value),
      ['a', 'b'],
    );
    const byPrefix = await store.deleteRange({ key: ns, prefix: true });
    assert.equal(byPrefix.deleted, 2);
    assert.equal(byPrefix.revision, byRange.revision + 1);
    assert.equal(byPrefix.prevKvs, undefined, 'prevKvs only when asked for');
    assert.equal((await store.range({ key: ns, prefix: true })).count, 0);
  });

  it('range: prefix, rangeEnd, "\\0" end, key order, limit with count and more, keysOnly, countOnly', async () => {
    const { store } = ctx;
    const ns = ctx.ns('range');
    for (const k of ['b', 'a', 'c/1', 'c/2', 'd']) await store.put({ key: `${ns}${k}`, value: `v-${k}` });
    const all = await store.range({ key: ns, prefix: true });
    assert.deepEqual(
      all.kvs.map((kv) => kv.key.slice(ns.length)),
      ['a', 'b', 'c/1', 'c/2', 'd'],
    );
    assert.equal(all.count, 5);
    assert.equal(all.more, false);
    const sub = await store.range({ key: `${ns}c/`, prefix: true });
    assert.deepEqual(
      sub.kvs.map((kv) => kv.value),
      ['v-c/1', 'v-c/2'],
    );
    const interval = await store.range({ key: `${ns}b`, rangeEnd: `${ns}d` });
    assert.deepEqual(
      interval.kvs.map((kv) => kv.key.slice(ns.length)),
      ['b', 'c/1', 'c/2'],
    );
    const toEnd = await store.range({ key: `${ns}c/2`, rangeEnd: '\0' });
    assert.deepEqual(
      toEnd.kvs.slice(0, 2).map((kv) => kv.key.slice(ns.length)),
      ['c/2', 'd'],
    );
    const limited = await store.range({ key: ns, prefix: true, limit: 2 });
    assert.deepEqual(
      limited.kvs.map((kv) => kv.key.slice(ns.length)),
      ['a', 'b'],
    );
    assert.equal(limited.count, 5);
    assert.equal(limited.more, true);
    const keysOnly = await store.range({ key: ns, prefix: true, keysOnly: true });
    assert.ok(keysOnly.kvs.every((kv) => kv.value === '' && kv.version === 1));
    const countOnly = await store.range({ key: ns, prefix: true, countOnly: true });
    assert.deepEqual(countOnly.kvs, []);
    assert.equal(countOnly.count, 5);
  });

  it('unicode keys and values round-trip; an empty key is refused', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('utf8')}ключ/☃/😀`;
    await store.put({ key, value: 'значение ☃ 😀' });
    assert.equal((await store.get(key))?.value, 'значение ☃ 😀');
    assert.equal((await store.range({ key: ctx.ns('utf8'), prefix: true })).kvs[0]?.key, key);
    await rejectsWith(store.put({ key: '', value: 'x' }), KvErrorCode.InvalidArgument);
  });

  it('reads at a past revision see the key as it was, including before a delete', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('history')}k`;
    const r1 = await store.put({ key, value: 'one' });
    const r2 = await store.put({ key, value: 'two' });
    const r3 = await store.deleteRange({ key });
    assert.equal((await store.range({ key, revision: r1.revision })).kvs[0]?.value, 'one');
    const atR2 = await store.range({ key, revision: r2.revision });
    assert.equal(atR2.kvs[0]?.version, 2);
    assert.ok(atR2.revision >= r3.revision, 'the response revision is the store revision, not the read one');
    assert.equal((await store.range({ key, revision: r3.revision })).count, 0);
    await rejectsWith(store.range({ key, revision: r3.revision + 1_000_000 }), KvErrorCode.FutureRevision);
  });

  it('compaction: reads below it fail with SKEIN_COMPACTED and details.compactRevision', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('compact')}k`;
    const r1 = await store.put({ key, value: 'one' });
    const r2 = await store.put({ key, value: 'two' });
    const compacted = await store.compact(r2.revision);
    assert.ok(compacted.revision >= r2.revision);
    const error = await rejectsWith(store.range({ key, revision: r1.revision }), KvErrorCode.Compacted);
    assert.equal(error.details?.compactRevision, r2.revision);
    assert.equal(
      (await store.range({ key, revision: r2.revision })).kvs[0]?.value,
      'two',
      'the compaction revision itself stays',
    );
    await rejectsWith(store.compact(r1.revision), KvErrorCode.Compacted);
    await rejectsWith(store.compact(r2.revision + 1_000_000), KvErrorCode.FutureRevision);
  });
}
