// What only the etcd backend has to get right: watches that resume across member crashes without
// loss or duplication, lease ids beyond 2^53, etcd's error texts mapped to our codes, and the test
// cluster helper itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { connectEtcd } from '../../src/client/etcd-store.ts';
import type { CoordinationStore, WatchResponse } from '../../src/client/types.ts';
import { KvErrorCode } from '../../src/kv/errors.ts';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd-cluster.ts';
import { rejectsWith, sleep, waitFor } from './helpers.ts';

/** Put, retrying while the cluster is electing or a member is down (a retried put may apply twice). */
async function putRetrying(store: CoordinationStore, key: string, value: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await store.put({ key, value });
      return;
    } catch (error) {
      if (attempt >= 50) throw error;
      await sleep(50);
    }
  }
}

/** The values of every put event, in delivery order, failing on any revision going backwards. */
function valuesInOrder(responses: readonly WatchResponse[]): string[] {
  let last = 0;
  const values: string[] = [];
  for (const response of responses) {
    for (const event of response.events) {
      assert.ok(
        event.kv.modRevision > last,
        `revision ${String(event.kv.modRevision)} after ${String(last)}`,
      );
      last = event.kv.modRevision;
      values.push(event.kv.value);
    }
  }
  return values;
}

describe('etcd backend: watch resume across member crashes', () => {
  it('3 members: every member killed and restarted in turn, the watch sees each write once, in order', async () => {
    const cluster = await startEtcdCluster({ members: 3 });
    const store = await connectEtcd({ hosts: cluster.clientUrls, requestTimeoutMs: 2000 });
    try {
      const responses: WatchResponse[] = [];
      const errors: Error[] = [];
      const watch = await store.watch(
        { key: 'resume/', prefix: true },
        { onResponse: (r) => responses.push(r), onError: (e) => errors.push(e) },
      );
      let n = 0;
      const writeSome = async (): Promise<void> => {
        for (let i = 0; i < 10; i++) await putRetrying(store, `resume/${String(n % 3)}`, String(n++));
      };
      for (let member = 0; member < 3; member++) {
        await writeSome();
        await cluster.kill(member);
        await writeSome();
        await cluster.restart(member);
      }
      await writeSome();
      await waitFor('every write', () => new Set(valuesInOrder(responses)).size === n, 10_000);
      const values = valuesInOrder(responses);
      // A put retried after a lost answer is a second write of the same value: allowed, but only adjacent.
      const distinct = values.filter((v, i) => i === 0 || v !== values[i - 1]);
      assert.deepEqual(
        distinct,
        Array.from({ length: n }, (_, i) => String(i)),
      );
      assert.deepEqual(errors, []);
      await watch.cancel();
    } finally {
      await store.close();
      await cluster.stop();
    }
  });

  it('1 member: the watch survives etcd being down and restarted from its data directory', async () => {
    const cluster = await startEtcdCluster({ members: 1 });
    const store = await connectEtcd({ hosts: cluster.clientUrls, requestTimeoutMs: 2000 });
    try {
      const responses: WatchResponse[] = [];
      const watch = await store.watch({ key: 'k' }, { onResponse: (r) => responses.push(r) });
      await store.put({ key: 'k', value: 'before' });
      await cluster.kill(0);
      await sleep(300); // the stream breaks; reconnect attempts fail meanwhile
      await cluster.restart(0);
      await putRetrying(store, 'k', 'after');
      await waitFor('both events', () => valuesInOrder(responses).length >= 2, 10_000);
      assert.deepEqual(valuesInOrder(responses), ['before', 'after']);
      await watch.cancel();
    } finally {
      await store.close();
      await cluster.stop();
    }
  });
});

describe('etcd backend: lease ids, errors, connection', () => {
  let cluster: EtcdCluster;
  let store: CoordinationStore;
  before(async () => {
    cluster = await startEtcdCluster({ members: 1 });
    store = await connectEtcd({ hosts: cluster.clientUrls });
  });
  after(async () => {
    await store.close();
    await cluster.stop();
  });

  it('leases granted by connectEtcd have ids below 2^53 that etcd shows the same', async () => {
    const lease = await store.grantLease(5);
    const raw = new Etcd3({ hosts: [...cluster.clientUrls] });
    try {
      const leases = await raw.leaseClient.leaseLeases();
      assert.ok(leases.leases.some((l) => l.ID === String(lease.id)));
    } finally {
      raw.close();
      await store.revokeLease(lease.id);
    }
  });

  it('a foreign lease id above 2^53 gets a negative alias that works everywhere', async () => {
    const raw = new Etcd3({ hosts: [...cluster.clientUrls] });
    const bigId = '9007199254740993'; // 2^53 + 1: Number() would round it to 2^53
    try {
      await raw.leaseClient.leaseGrant({ ID: bigId, TTL: 30 });
      await raw.kv.put({ key: Buffer.from('big/k'), value: Buffer.from('v'), lease: bigId });
      const kv = await store.get('big/k');
      assert.ok(kv !== null && kv.lease < 0, `alias ${String(kv?.lease)}`);
      const alias = kv.lease;
      assert.equal((await store.get('big/k'))?.lease, alias, 'the alias is stable');
      assert.deepEqual((await store.leaseTimeToLive(alias))?.keys, ['big/k']);
      assert.equal((await store.keepAliveOnce(alias)).id, alias);
      const cmp = await store.txn({
        compare: [{ key: 'big/k', target: 'lease', op: '=', value: alias }],
        success: [],
        failure: [],
      });
      assert.equal(cmp.succeeded, true);
      await store.put({ key: 'big/k2', value: 'v2', lease: alias });
      const viaRaw = await raw.kv.range({ key: Buffer.from('big/k2') });
      assert.equal(viaRaw.kvs[0]?.lease, bigId, 'the alias maps back to the exact etcd id');
      await store.revokeLease(alias);
      assert.equal(await store.get('big/k'), null);
      await rejectsWith(store.keepAliveOnce(-424242), KvErrorCode.InvalidArgument);
    } finally {
      raw.close();
    }
  });

  it("maps etcd's errors: request too large, too many txn ops", async () => {
    await rejectsWith(
      store.put({ key: 'large', value: 'x'.repeat(2 * 1024 * 1024) }),
      KvErrorCode.ValueTooLarge,
    );
    const ops = Array.from({ length: 129 }, (_, i) => ({ put: { key: `ops/${String(i)}`, value: '' } }));
    await rejectsWith(store.txn({ compare: [], success: ops, failure: [] }), KvErrorCode.TooManyOps);
  });

  it('connectEtcd fails fast with SKEIN_UNAVAILABLE when nothing listens; a closed store says SKEIN_CLOSED', async () => {
    const started = performance.now();
    await rejectsWith(
      connectEtcd({ hosts: 'http://127.0.0.1:1', connectTimeoutMs: 500, requestTimeoutMs: 500 }),
      'SKEIN_UNAVAILABLE',
    );
    assert.ok(performance.now() - started < 5000);
    const closing = await connectEtcd({ hosts: cluster.clientUrls });
    await closing.close();
    await rejectsWith(closing.get('x'), 'SKEIN_CLOSED');
  });

  it('startEtcdCluster says how to install etcd when it is missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await assert.rejects(startEtcdCluster(), /install Debian's etcd-server/);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('etcd backend: authentication', () => {
  it('connects with a user and password; a wrong password fails at connectEtcd with SKEIN_UNAUTHORIZED', async () => {
    const cluster = await startEtcdCluster({ members: 1 });
    const admin = new Etcd3({ hosts: [...cluster.clientUrls] });
    try {
      await admin.role('root').create();
      await admin.user('root').create('root-secret');
      await admin.user('root').addRole('root');
      await admin.role('reader').create(); // may read one key only
      await admin.role('reader').grant({ permission: 'Read', key: 'auth/k' });
      await admin.user('reader').create('reader-secret');
      await admin.user('reader').addRole('reader');
      await admin.auth.authEnable();
      await rejectsWith(
        connectEtcd({ hosts: cluster.clientUrls, auth: { username: 'root', password: 'wrong' } }),
        'SKEIN_UNAUTHORIZED',
      );
      const store = await connectEtcd({
        hosts: cluster.clientUrls,
        auth: { username: 'root', password: 'root-secret' },
      });
      try {
        await store.put({ key: 'auth/k', value: 'v' });
        assert.equal((await store.get('auth/k'))?.value, 'v');
        const events: string[] = [];
        const watch = await store.watch(
          { key: 'auth/k' },
          { onResponse: (r) => events.push(...r.events.map((e) => e.kv.value)) },
        );
        await store.put({ key: 'auth/k', value: 'w' });
        await waitFor('the watch event', () => events.length === 1);
        await watch.cancel();
      } finally {
        await store.close();
      }
      // The reader: a refused write or watch is SKEIN_UNAUTHORIZED (the watch() call rejects).
      const reader = await connectEtcd({
        hosts: cluster.clientUrls,
        auth: { username: 'reader', password: 'reader-secret' },
      });
      try {
        assert.equal((await reader.get('auth/k'))?.value, 'w');
        await rejectsWith(reader.put({ key: 'auth/k', value: 'x' }), 'SKEIN_UNAUTHORIZED');
        await rejectsWith(
          reader.watch({ key: 'other' }, { onResponse: () => undefined }),
          'SKEIN_UNAUTHORIZED',
        );
      } finally {
        await reader.close();
      }
    } finally {
      admin.close();
      await cluster.stop();
    }
  });
});
