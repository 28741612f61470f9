// Watches: history replay, prefix and range filters, prevKv, deletes, compaction, cancel, progress.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { KvErrorCode } from '../../src/kv/errors.ts';
import type { SkeinError } from '../../src/core/errors.ts';
import { record, sleep, waitFor, type SuiteContext } from './helpers.ts';

export function watchCases(ctx: SuiteContext): void {
  it('from a past revision: every change in order, once, with revisions ≤ the response revision', async () => {
    const { store } = ctx;
    const ns = ctx.ns('watch-past');
    const first = await store.put({ key: `${ns}a`, value: '1' });
    await store.put({ key: `${ns}b`, value: '2' });
    await store.put({ key: `${ns}a`, value: '3' });
    await store.deleteRange({ key: `${ns}b` });
    const watch = await record(store, { key: ns, prefix: true, startRevision: first.revision });
    const last = await store.txn({
      compare: [],
      success: [{ put: { key: `${ns}c`, value: '4' } }, { put: { key: `${ns}d`, value: '5' } }],
      failure: [],
    });
    await waitFor('6 events', () => watch.events().length >= 6);
    await sleep(50); // nothing more may come
    const seen = watch.events().map((e) => [e.type, e.kv.key.slice(ns.length), e.kv.value, e.kv.modRevision]);
    assert.deepEqual(seen, [
      ['put', 'a', '1', first.revision],
      ['put', 'b', '2', first.revision + 1],
      ['put', 'a', '3', first.revision + 2],
      ['delete', 'b', '', first.revision + 3],
      ['put', 'c', '4', last.revision],
      ['put', 'd', '5', last.revision],
    ]);
    for (const response of watch.responses) {
      for (const event of response.events) assert.ok(event.kv.modRevision <= response.revision);
    }
    assert.equal(watch.handle.lastRevision, last.revision);
    assert.deepEqual(watch.errors, []);
    await watch.handle.cancel();
  });

  it('start 0: only changes after the watch is established', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('watch-now')}k`;
    await store.put({ key, value: 'before' });
    const watch = await record(store, { key });
    const after = await store.put({ key, value: 'after' });
    await waitFor('1 event', () => watch.events().length >= 1);
    assert.deepEqual(
      watch.events().map((e) => e.kv.value),
      ['after'],
    );
    assert.equal(watch.handle.lastRevision, after.revision);
    await watch.handle.cancel();
  });

  it('filters by key, prefix and rangeEnd', async () => {
    const { store } = ctx;
    const ns = ctx.ns('watch-filter');
    const exact = await record(store, { key: `${ns}b` });
    const prefix = await record(store, { key: `${ns}b`, prefix: true });
    const range = await record(store, { key: `${ns}a`, rangeEnd: `${ns}b` });
    for (const k of ['a', 'a2', 'b', 'b/x', 'c']) await store.put({ key: `${ns}${k}`, value: k });
    await waitFor('prefix events', () => prefix.events().length >= 2);
    await waitFor('range events', () => range.events().length >= 2);
    await sleep(50);
    const keys = (r: typeof exact): string[] => r.events().map((e) => e.kv.key.slice(ns.length));
    assert.deepEqual(keys(exact), ['b']);
    assert.deepEqual(keys(prefix), ['b', 'b/x']);
    assert.deepEqual(keys(range), ['a', 'a2']);
    await Promise.all([exact, prefix, range].map((w) => w.handle.cancel()));
  });

  it('prevKv on puts and deletes; delete events carry the key, an empty value and the delete revision', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('watch-prev')}k`;
    const watch = await record(store, { key, prevKv: true });
    const put1 = await store.put({ key, value: 'one' });
    await store.put({ key, value: 'two' });
    const del = await store.deleteRange({ key });
    await waitFor('3 events', () => watch.events().length >= 3);
    const [e1, e2, e3] = watch.events();
    assert.equal(e1?.prevKv, undefined, 'no previous version of a new key');
    assert.equal(e2?.prevKv?.value, 'one');
    assert.equal(e2.prevKv.modRevision, put1.revision);
    assert.equal(e3?.type, 'delete');
    assert.equal(e3.kv.key, key);
    assert.equal(e3.kv.value, '');
    assert.equal(e3.kv.modRevision, del.revision);
    assert.equal(e3.prevKv?.value, 'two');
    if (ctx.expect.deleteEventZeroesFields) {
      assert.equal(e3.kv.createRevision, 0);
      assert.equal(e3.kv.version, 0);
    }
    await watch.handle.cancel();
  });

  it('a lease revoke shows up as delete events at one revision', async () => {
    const { store } = ctx;
    const ns = ctx.ns('watch-lease');
    const lease = await store.grantLease(30);
    await store.put({ key: `${ns}a`, value: '1', lease: lease.id });
    await store.put({ key: `${ns}b`, value: '2', lease: lease.id });
    const watch = await record(store, { key: ns, prefix: true });
    const revoked = await store.revokeLease(lease.id);
    await waitFor('2 deletes', () => watch.events().length >= 2);
    assert.deepEqual(
      watch.events().map((e) => [e.type, e.kv.key.slice(ns.length), e.kv.modRevision]),
      [
        ['delete', 'a', revoked.revision],
        ['delete', 'b', revoked.revision],
      ],
    );
    await watch.handle.cancel();
  });

  it('a compacted start revision ends the watch with SKEIN_COMPACTED and details.compactRevision', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('watch-compacted')}k`;
    const old = await store.put({ key, value: '1' });
    const now = await store.put({ key, value: '2' });
    await store.compact(now.revision);
    const errors: Error[] = [];
    let responses = 0;
    await store.watch(
      { key, startRevision: old.revision },
      { onResponse: () => (responses += 1), onError: (error) => errors.push(error) },
    );
    await waitFor('the compaction error', () => errors.length > 0);
    assert.equal(errors.length, 1);
    const error = errors[0] as SkeinError;
    assert.equal(error.code, KvErrorCode.Compacted);
    assert.equal(error.details?.compactRevision, now.revision);
    assert.equal(responses, 0);
  });

  it('cancel stops delivery at once and is idempotent', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('watch-cancel')}k`;
    const watch = await record(store, { key });
    await store.put({ key, value: '1' });
    await waitFor('1 event', () => watch.events().length >= 1);
    await watch.handle.cancel();
    await watch.handle.cancel();
    await store.put({ key, value: '2' });
    await sleep(100);
    assert.equal(watch.events().length, 1);
    assert.deepEqual(watch.errors, [], 'cancel is not an error');
  });

  it('progress notifications on an idle watch carry the current revision', async (t) => {
    const withinMs = ctx.options.progressNotifyWithinMs;
    if (withinMs === 0) {
      t.skip('this backend was not configured with a short progress interval');
      return;
    }
    const { store } = ctx;
    const ns = ctx.ns('watch-progress');
    const watch = await record(store, { key: `${ns}idle`, progressNotify: true });
    const other = await store.put({ key: `${ns}other`, value: 'x' }); // outside the watched key
    await waitFor(
      'a progress notification',
      () => watch.responses.some((r) => r.progress === true),
      withinMs,
    );
    const progress = watch.responses.find((r) => r.progress === true);
    assert.deepEqual(progress?.events, []);
    assert.ok(progress.revision >= other.revision);
    assert.ok(watch.handle.lastRevision >= other.revision);
    await watch.handle.cancel();
  });
}
