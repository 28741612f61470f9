import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KvErrorCode } from './errors.ts';
import { kv, throwsCode } from './test-helpers.ts';

describe('revisions and versions', () => {
  it('a fresh store is at revision 1 and each put bumps it by one', () => {
    const { store, put } = kv();
    assert.equal(store.revision, 1);
    assert.equal(put('a', '1').revision, 2);
    assert.equal(put('a', '1').revision, 3); // same value still writes, as etcd
    assert.equal(store.revision, 3);
  });

  it('put keeps createRevision, bumps version and modRevision, reports prevKv', () => {
    const { put, get } = kv();
    put('a', '1');
    const r = put('a', '2', { prevKv: true });
    assert.deepEqual(r.prevKv, {
      key: 'a',
      value: '1',
      createRevision: 2,
      modRevision: 2,
      version: 1,
      lease: 0,
    });
    assert.deepEqual(get('a'), {
      key: 'a',
      value: '2',
      createRevision: 2,
      modRevision: 3,
      version: 2,
      lease: 0,
    });
    assert.equal(put('new', 'x', { prevKv: true }).prevKv, undefined);
  });

  it('delete leaves a tombstone; the next put starts at version 1 with a new createRevision', () => {
    const { store, put, del, get } = kv();
    put('a', '1');
    put('a', '2');
    const d = del({ key: 'a', prevKv: true });
    assert.deepEqual(d, { revision: 4, deleted: 1, prevKvs: [get('a', 3)] });
    assert.equal(get('a'), undefined);
    assert.equal(store.keyCount, 0);
    put('a', '3');
    assert.deepEqual(get('a'), {
      key: 'a',
      value: '3',
      createRevision: 5,
      modRevision: 5,
      version: 1,
      lease: 0,
    });
    assert.equal(put('a', '4', { prevKv: true }).prevKv?.value, '3');
  });

  it('deleting nothing does not bump the revision', () => {
    const { store, put, del } = kv();
    put('a', '1');
    assert.deepEqual(del({ key: 'b' }), { revision: 2, deleted: 0 });
    del({ key: 'a' });
    assert.deepEqual(del({ key: 'a' }), { revision: 3, deleted: 0 });
    assert.equal(store.revision, 3);
  });

  it('a range delete deletes every selected key at one revision', () => {
    const { store, put, del } = kv();
    for (const k of ['a/1', 'a/2', 'a/3', 'b']) put(k, 'v');
    assert.deepEqual(del({ key: 'a/', prefix: true }), { revision: 6, deleted: 3 });
    assert.equal(store.keyCount, 1);
    const events = store.eventsSince({ key: 'a/', prefix: true }, 6, false, 100).events;
    assert.deepEqual(
      events.map((e) => [e.type, e.kv.key, e.kv.modRevision]),
      [
        ['delete', 'a/1', 6],
        ['delete', 'a/2', 6],
        ['delete', 'a/3', 6],
      ],
    );
  });
});

describe('range', () => {
  function filled() {
    const t = kv();
    for (const k of ['a', 'ab', 'abc', 'b', 'c', 'd']) t.put(k, `v-${k}`);
    return t;
  }
  const keys = (r: { kvs: readonly { key: string }[] }) => r.kvs.map((x) => x.key);

  it('single key, prefix, [key, rangeEnd) and rangeEnd \\0', () => {
    const { store } = filled();
    assert.deepEqual(keys(store.range({ key: 'ab' })), ['ab']);
    assert.deepEqual(keys(store.range({ key: 'zz' })), []);
    assert.deepEqual(keys(store.range({ key: 'a', prefix: true })), ['a', 'ab', 'abc']);
    assert.deepEqual(keys(store.range({ key: '', prefix: true })), ['a', 'ab', 'abc', 'b', 'c', 'd']);
    assert.deepEqual(keys(store.range({ key: 'ab', rangeEnd: 'c' })), ['ab', 'abc', 'b']);
    assert.deepEqual(keys(store.range({ key: 'b', rangeEnd: '\0' })), ['b', 'c', 'd']);
    assert.deepEqual(keys(store.range({ key: 'c', rangeEnd: 'a' })), []);
  });

  it('limit, more, count, keysOnly, countOnly', () => {
    const { store } = filled();
    const r = store.range({ key: '', prefix: true, limit: 2 });
    assert.deepEqual([keys(r), r.count, r.more, r.revision], [['a', 'ab'], 6, true, 7]);
    const all = store.range({ key: '', prefix: true, limit: 6 });
    assert.equal(all.more, false);
    const ko = store.range({ key: 'a', keysOnly: true });
    assert.deepEqual(ko.kvs, [
      { key: 'a', value: '', createRevision: 2, modRevision: 2, version: 1, lease: 0 },
    ]);
    const co = store.range({ key: '', prefix: true, countOnly: true, limit: 1 });
    assert.deepEqual([co.kvs.length, co.count, co.more], [0, 6, false]);
  });

  it('orders keys by code point (UTF-8 bytes), not UTF-16 code units', () => {
    const { store, put } = kv();
    put('\u{1F600}', 'emoji'); // surrogate pair: above U+FFFF
    put('\uFF21', 'fullwidth A'); // U+FF21 sorts before the emoji in UTF-8
    put('z', 'z');
    assert.deepEqual(keys(store.range({ key: '', prefix: true })), ['z', '\uFF21', '\u{1F600}']);
    assert.deepEqual(keys(store.range({ key: '\uFF00', rangeEnd: '\u{1F000}' })), ['\uFF21']);
  });

  it('historical reads, SKEIN_FUTURE_REVISION and SKEIN_COMPACTED', () => {
    const { store, put, del, compact, get } = kv();
    put('a', '1'); // 2
    put('a', '2'); // 3
    del({ key: 'a' }); // 4
    put('b', '1'); // 5
    assert.equal(get('a', 1), undefined);
    assert.equal(get('a', 2)?.value, '1');
    assert.equal(get('a', 3)?.value, '2');
    assert.equal(get('a', 4), undefined);
    assert.deepEqual(keys(store.range({ key: '', prefix: true, revision: 3 })), ['a']);
    assert.equal(store.range({ key: 'a', revision: 3 }).revision, 5);
    throwsCode(() => store.range({ key: 'a', revision: 6 }), KvErrorCode.FutureRevision);
    compact(3);
    throwsCode(() => store.range({ key: 'a', revision: 2 }), KvErrorCode.Compacted, /compaction point 3/);
    assert.equal(get('a', 3)?.value, '2'); // the compaction point itself is readable
    assert.equal(get('a', 4), undefined);
  });
});

describe('compaction', () => {
  it('keeps the latest version at or below the point unless it is a tombstone', () => {
    const { store, put, del, compact, get } = kv();
    put('live', '1'); // 2
    put('live', '2'); // 3
    put('dead', '1'); // 4
    del({ key: 'dead' }); // 5
    put('late', '1'); // 6
    assert.deepEqual(compact(5), { revision: 6 });
    assert.equal(store.compactRevision, 5);
    assert.equal(get('live', 5)?.value, '2');
    assert.equal(get('dead', 5), undefined);
    // The deleted key is gone entirely: even a range from the start does not visit it.
    assert.equal(store.range({ key: '', prefix: true, revision: 5 }).count, 1);
    assert.equal(get('late')?.value, '1');
    assert.deepEqual(
      store.eventsSince({ key: '', prefix: true }, 6, true, 10).events.map((e) => e.kv.key),
      ['late'],
    );
  });

  it('rejects compacting at or below the current point and beyond the revision', () => {
    const { store, put, compact } = kv();
    put('a', '1');
    put('a', '2');
    throwsCode(() => compact(0), KvErrorCode.Compacted);
    throwsCode(() => compact(4), KvErrorCode.FutureRevision);
    compact(3); // compacting to the current revision is allowed
    throwsCode(() => compact(3), KvErrorCode.Compacted);
    throwsCode(() => compact(2), KvErrorCode.Compacted);
    assert.equal(store.compactRevision, 3);
    assert.equal(store.revision, 3);
  });
});

describe('eventsSince', () => {
  it('returns puts and deletes with prevKv, stopping at a revision boundary', () => {
    const { store, put, del, txn } = kv();
    put('a', '1'); // 2
    put('a', '2'); // 3
    txn({ success: [{ put: { key: 'b', value: 'x' } }, { put: { key: 'c', value: 'y' } }] }); // 4
    del({ key: 'a' }); // 5
    const all = store.eventsSince({ key: '', prefix: true }, 2, true, 100);
    assert.equal(all.throughRevision, 5);
    assert.deepEqual(
      all.events.map((e) => [e.type, e.kv.key, e.kv.modRevision, e.prevKv?.value]),
      [
        ['put', 'a', 2, undefined],
        ['put', 'a', 3, '1'],
        ['put', 'b', 4, undefined],
        ['put', 'c', 4, undefined],
        ['delete', 'a', 5, '2'],
      ],
    );
    assert.deepEqual(all.events[4]?.kv, {
      key: 'a',
      value: '',
      createRevision: 0,
      modRevision: 5,
      version: 0,
      lease: 0,
    });
    const some = store.eventsSince({ key: '', prefix: true }, 3, false, 2);
    assert.deepEqual([some.events.length, some.throughRevision], [3, 4]); // revision 4 is not split
    assert.equal(some.events[0]?.prevKv, undefined);
    const one = store.eventsSince({ key: 'a' }, 0, true, 1);
    assert.deepEqual([one.events.length, one.throughRevision], [1, 2]);
    assert.deepEqual(store.eventsSince({ key: 'a' }, 6, true, 1), { events: [], throughRevision: 5 });
  });

  it('throws SKEIN_COMPACTED with the compact revision in details', () => {
    const { store, put, compact } = kv();
    put('a', '1');
    put('a', '2');
    compact(2);
    assert.throws(
      () => store.eventsSince({ key: 'a' }, 2, false, 10),
      (e: unknown) =>
        (e as { code: string; details: unknown }).code === KvErrorCode.Compacted &&
        (e as { details: { compactRevision: number } }).details.compactRevision === 2,
    );
    const rest = store.eventsSince({ key: 'a' }, 3, true, 10);
    assert.deepEqual(
      rest.events.map((e) => [e.kv.value, e.prevKv?.value]),
      [['2', '1']],
    );
  });

  it('onChange sees exactly what eventsSince later returns', () => {
    const { store, put, del, txn, grant, revoke } = kv();
    const seen: [number, unknown][] = [];
    const off = store.onChange((revision, events) => seen.push([revision, events]));
    const lease = grant(10).id;
    put('a', '1', { lease });
    put('b', '1', { lease });
    txn({ success: [{ put: { key: 'c', value: '1' } }, { deleteRange: { key: 'a' } }] });
    del({ key: 'nothing' });
    revoke(lease);
    off();
    put('after', 'x');
    assert.deepEqual(
      seen.map(([r]) => r),
      [2, 3, 4, 5],
    );
    for (const [revision, events] of seen) {
      const later = store.eventsSince({ key: '', prefix: true }, revision, true, 1).events;
      assert.deepEqual(events, later);
    }
  });
});
