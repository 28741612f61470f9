import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KvErrorCode } from './errors.ts';
import { kv, snapshotBytes, throwsCode } from './test-helpers.ts';

describe('txn', () => {
  it('compares value/version/createRevision/modRevision/lease with = != < >', () => {
    const { put, txn } = kv();
    put('a', 'm'); // 2: version 1
    put('a', 'm'); // 3: version 2
    const holds = (target: string, op: string, value: string | number) =>
      txn({ compare: [{ key: 'a', target, op, value } as never] }).succeeded;
    assert.ok(holds('value', '=', 'm') && holds('value', '<', 'n') && holds('value', '>', 'l'));
    assert.ok(!holds('value', '!=', 'm'));
    assert.ok(holds('version', '=', 2) && holds('version', '>', 1) && !holds('version', '<', 2));
    assert.ok(holds('createRevision', '=', 2) && holds('modRevision', '=', 3) && holds('lease', '=', 0));
  });

  it('a missing key compares as value "", version 0, revisions 0, lease 0', () => {
    const { txn } = kv();
    const c = (target: string, value: string | number) =>
      txn({ compare: [{ key: 'nope', target, op: '=', value } as never] }).succeeded;
    assert.ok(
      c('value', '') && c('version', 0) && c('createRevision', 0) && c('modRevision', 0) && c('lease', 0),
    );
  });

  it('runs the chosen branch at one revision; reads see its earlier writes', () => {
    const { store, put, txn } = kv();
    put('x', '1'); // 2
    const r = txn({
      compare: [{ key: 'x', target: 'value', op: '=', value: '1' }],
      success: [
        { range: { key: 'y' } },
        { put: { key: 'y', value: 'new', prevKv: true } },
        { range: { key: 'y' } },
        { put: { key: 'x', value: '2', prevKv: true } },
        { range: { key: 'x', revision: 2 } },
      ],
      failure: [{ put: { key: 'never', value: '!' } }],
    });
    assert.equal(r.succeeded, true);
    assert.equal(r.revision, 3);
    assert.equal(store.revision, 3);
    const [r0, r1, r2, r3, r4] = r.responses as never as Record<string, Record<string, unknown>>[];
    assert.deepEqual(r0?.range, { kvs: [], count: 0, more: false, revision: 2 });
    assert.deepEqual(r1?.put, { revision: 3 });
    assert.deepEqual((r2?.range?.kvs as { value: string }[])[0]?.value, 'new');
    assert.equal((r3?.put?.prevKv as { value: string }).value, '1');
    assert.equal((r4?.range?.kvs as { value: string }[])[0]?.value, '1'); // historical read inside the txn
    assert.equal(store.range({ key: 'never' }).count, 0);
    const f = txn({
      compare: [{ key: 'x', target: 'version', op: '>', value: 5 }],
      failure: [{ range: { key: 'x' } }],
    });
    assert.deepEqual([f.succeeded, f.revision], [false, 3]); // a read-only txn does not bump
  });

  it('a txn whose writes change nothing does not bump the revision', () => {
    const { store, txn } = kv();
    assert.equal(txn({ success: [{ deleteRange: { key: 'a', prefix: true } }] }).revision, 1);
    assert.equal(store.revision, 1);
  });

  it('rejects writing a key twice in a branch with SKEIN_DUPLICATE_KEY, state untouched', () => {
    const { put, txn, store } = kv();
    put('k/1', 'v');
    const before = snapshotBytes(store);
    throwsCode(
      () => txn({ success: [{ put: { key: 'a', value: '1' } }, { put: { key: 'a', value: '2' } }] }),
      KvErrorCode.DuplicateKey,
      /txn\.success/,
    );
    throwsCode(
      () =>
        txn({ failure: [{ deleteRange: { key: 'k/', prefix: true } }, { put: { key: 'k/2', value: '2' } }] }),
      KvErrorCode.DuplicateKey,
      /txn\.failure/,
    );
    throwsCode(
      () =>
        txn({ success: [{ put: { key: 'b', value: '1' } }, { deleteRange: { key: 'a', rangeEnd: 'c' } }] }),
      KvErrorCode.DuplicateKey,
    );
    assert.deepEqual(snapshotBytes(store), before);
    // Overlapping deletes are fine (etcd allows them); the second finds nothing left.
    const ok = txn({
      success: [{ deleteRange: { key: 'k/', prefix: true } }, { deleteRange: { key: 'k/1' } }],
    });
    assert.deepEqual(
      ok.responses.map((x) => (x as { deleteRange: { deleted: number } }).deleteRange.deleted),
      [1, 0],
    );
    assert.notDeepEqual(snapshotBytes(store), before);
  });

  it('a put to a missing lease rejects the whole txn before anything is written', () => {
    const { store, txn } = kv();
    const before = snapshotBytes(store);
    throwsCode(
      () =>
        txn({ success: [{ put: { key: 'a', value: '1' } }, { put: { key: 'b', value: '1', lease: 99 } }] }),
      KvErrorCode.LeaseNotFound,
    );
    assert.deepEqual(snapshotBytes(store), before);
    // ...but only the chosen branch matters.
    assert.equal(
      txn({
        success: [{ put: { key: 'a', value: '1' } }],
        failure: [{ put: { key: 'b', value: '1', lease: 99 } }],
      }).revision,
      2,
    );
  });

  it('rejects too many ops per branch', () => {
    const { txn } = kv({ maxTxnOps: 2 });
    const op = (key: string) => ({ put: { key, value: '' } });
    throwsCode(
      () => txn({ success: [op('a'), op('b'), op('c')] }),
      KvErrorCode.TooManyOps,
      /txn\.success has 3 entries/,
    );
    assert.equal(txn({ success: [op('a'), op('b')], failure: [op('c'), op('d')] }).revision, 2);
  });
});

describe('leases', () => {
  it('allocates ids from a counter, takes given ids, refuses an existing one', () => {
    const { store, grant } = kv();
    assert.deepEqual(grant(10), { id: 1, ttlSeconds: 10, revision: 1 });
    assert.equal(grant(5, 3).id, 3);
    assert.equal(grant(5).id, 2);
    assert.equal(grant(5).id, 4); // skips 3, which is taken
    throwsCode(() => grant(5, 3), KvErrorCode.LeaseExists);
    assert.equal(store.leaseCount, 4);
    assert.deepEqual(
      [...store.leases()].map((l) => [l.id, l.grantedTtlSeconds]),
      [
        [1, 10],
        [3, 5],
        [2, 5],
        [4, 5],
      ],
    );
  });

  it('put attaches, put with another lease or 0 detaches, delete detaches', () => {
    const { store, put, grant, del } = kv();
    const a = grant(10).id;
    const b = grant(10).id;
    put('k1', 'v', { lease: a });
    put('k2', 'v', { lease: a });
    put('k3', 'v', { lease: a });
    assert.deepEqual(store.lease(a)?.keys, ['k1', 'k2', 'k3']);
    put('k1', 'v', { lease: b });
    put('k2', 'v');
    del({ key: 'k3' });
    assert.deepEqual(store.lease(a)?.keys, []);
    assert.deepEqual(store.lease(b), { id: b, grantedTtlSeconds: 10, keys: ['k1'] });
    assert.equal(store.range({ key: 'k2' }).kvs[0]?.lease, 0);
  });

  it('a put to a missing lease writes nothing', () => {
    const { store, put } = kv();
    throwsCode(() => put('a', '1', { lease: 7 }), KvErrorCode.LeaseNotFound, /lease 7/);
    assert.equal(store.revision, 1);
    assert.equal(store.range({ key: 'a' }).count, 0);
  });

  it('revoke deletes every attached key at one new revision, in key order', () => {
    const { store, put, grant, revoke } = kv();
    const id = grant(10).id;
    put('z', '1', { lease: id });
    put('m', '1', { lease: id });
    put('keep', '1');
    assert.deepEqual(revoke(id, true), { revision: 5 });
    assert.equal(store.keyCount, 1);
    assert.equal(store.lease(id), undefined);
    const events = store.eventsSince({ key: '', prefix: true }, 5, true, 10).events;
    assert.deepEqual(
      events.map((e) => [e.type, e.kv.key, e.kv.modRevision, e.prevKv?.lease]),
      [
        ['delete', 'm', 5, id],
        ['delete', 'z', 5, id],
      ],
    );
    throwsCode(() => revoke(id), KvErrorCode.LeaseNotFound);
    const empty = grant(10).id;
    assert.deepEqual(revoke(empty), { revision: 5 }); // no keys: no new revision
  });

  it('maxLeases and maxKeys are enforced with SKEIN_KV_FULL', () => {
    const { grant, put, del, txn, store } = kv({ maxLeases: 1, maxKeys: 2 });
    grant(1);
    throwsCode(() => grant(1), KvErrorCode.Full, /maxLeases/);
    put('a', '1');
    put('b', '1');
    put('a', '2'); // an existing key is not a new one
    throwsCode(() => put('c', '1'), KvErrorCode.Full, /maxKeys/);
    throwsCode(() => txn({ success: [{ put: { key: 'c', value: '1' } }] }), KvErrorCode.Full);
    del({ key: 'b' });
    put('c', '1');
    assert.equal(store.keyCount, 2);
  });

  it('rejects TTLs out of range', () => {
    const { grant } = kv({ maxLeaseTtlSeconds: 100 });
    throwsCode(() => grant(0), KvErrorCode.InvalidArgument, /leaseGrant\.ttlSeconds/);
    throwsCode(() => grant(101), KvErrorCode.InvalidArgument, /from 1 to 100/);
    throwsCode(() => grant(1.5), KvErrorCode.InvalidArgument);
  });
});

describe('members', () => {
  it('member-publish adds or replaces by id, in order', () => {
    const { store, call } = kv();
    assert.equal(call('member-publish', { id: 'n1', name: 'a', clientUrl: 'http://127.0.0.1:1' }), null);
    call('member-publish', { id: 'n2', name: 'b', clientUrl: '' });
    call('member-publish', { id: 'n1', name: 'a', clientUrl: 'http://127.0.0.1:2' });
    assert.deepEqual(store.members(), [
      { id: 'n1', name: 'a', clientUrl: 'http://127.0.0.1:2' },
      { id: 'n2', name: 'b', clientUrl: '' },
    ]);
  });
});
