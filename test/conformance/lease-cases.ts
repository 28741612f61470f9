// Leases: grant, time to live, keep-alive, revoke, expiry, and the lease keeper on the real store.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { keepLease } from '../../src/client/lease-keeper.ts';
import { KvErrorCode } from '../../src/kv/errors.ts';
import { rejectsWith, sleep, waitFor, type SuiteContext } from './helpers.ts';

export function leaseCases(ctx: SuiteContext): void {
  it('grant, timeToLive with attached keys, keepAliveOnce', async () => {
    const { store } = ctx;
    const ns = ctx.ns('lease');
    const lease = await store.grantLease(20);
    assert.ok(Number.isSafeInteger(lease.id) && lease.id > 0, `lease id ${String(lease.id)}`);
    assert.equal(lease.ttlSeconds, 20);
    await store.put({ key: `${ns}a`, value: '1', lease: lease.id });
    await store.put({ key: `${ns}b`, value: '2', lease: lease.id });
    assert.equal((await store.get(`${ns}a`))?.lease, lease.id);
    const info = await store.leaseTimeToLive(lease.id);
    assert.ok(info !== null);
    assert.equal(info.id, lease.id);
    assert.equal(info.grantedTtlSeconds, 20);
    assert.ok(info.ttlSeconds >= 18 && info.ttlSeconds <= 20, `remaining ${String(info.ttlSeconds)}`);
    assert.deepEqual([...info.keys].sort(), [`${ns}a`, `${ns}b`]);
    assert.deepEqual(await store.keepAliveOnce(lease.id), { id: lease.id, ttlSeconds: 20 });
    // A bounded renewal (as keepLease sends them) renews the same way.
    assert.deepEqual(await store.keepAliveOnce(lease.id, { timeoutMs: 2000 }), {
      id: lease.id,
      ttlSeconds: 20,
    });
    await store.revokeLease(lease.id);
  });

  it('a small ttl is granted as asked (or raised to the backend minimum where documented)', async () => {
    const lease = await ctx.store.grantLease(1);
    if (ctx.expect.leaseTtlMayBeRaised) assert.ok(lease.ttlSeconds >= 1);
    else assert.equal(lease.ttlSeconds, 1);
    await ctx.store.revokeLease(lease.id);
    await rejectsWith(ctx.store.grantLease(0), KvErrorCode.InvalidArgument);
    await rejectsWith(ctx.store.grantLease(1.5), KvErrorCode.InvalidArgument);
  });

  it('revoke deletes the attached keys in one write; the lease is then not found', async () => {
    const { store } = ctx;
    const ns = ctx.ns('revoke');
    const lease = await store.grantLease(30);
    const other = await store.grantLease(30);
    await store.put({ key: `${ns}a`, value: '1', lease: lease.id });
    await store.put({ key: `${ns}b`, value: '2', lease: lease.id });
    await store.put({ key: `${ns}moved`, value: '3', lease: lease.id });
    await store.put({ key: `${ns}moved`, value: '4', lease: other.id }); // now on the other lease
    await store.put({ key: `${ns}plain`, value: '5', lease: lease.id });
    const last = await store.put({ key: `${ns}plain`, value: '6' }); // a put without lease detaches it
    const revoked = await store.revokeLease(lease.id);
    assert.equal(revoked.revision, last.revision + 1, 'all keys deleted at one revision');
    const left = await store.range({ key: ns, prefix: true });
    assert.deepEqual(
      left.kvs.map((kv) => [kv.key.slice(ns.length), kv.value]),
      [
        ['moved', '4'],
        ['plain', '6'],
      ],
    );
    assert.equal(await store.leaseTimeToLive(lease.id), null);
    await rejectsWith(store.keepAliveOnce(lease.id), KvErrorCode.LeaseNotFound);
    await rejectsWith(store.revokeLease(lease.id), KvErrorCode.LeaseNotFound);
    await store.revokeLease(other.id);
    const keyless = await store.grantLease(5);
    const before = (await store.range({ key: ns, prefix: true })).revision;
    const empty = await store.revokeLease(keyless.id);
    assert.equal(empty.revision, before, 'revoking a lease without keys is not a write');
  });

  it('put on a missing lease fails with SKEIN_LEASE_NOT_FOUND and writes nothing', async () => {
    const { store } = ctx;
    const key = `${ctx.ns('nolease')}k`;
    const lease = await store.grantLease(5);
    await store.revokeLease(lease.id);
    await rejectsWith(store.put({ key, value: 'x', lease: lease.id }), KvErrorCode.LeaseNotFound);
    assert.equal(await store.get(key), null);
    assert.equal(await store.leaseTimeToLive(987_654_321), null);
  });

  it('expiry: an unrenewed lease deletes its keys within ttl + bound; a kept one survives', async () => {
    const { store } = ctx;
    const ns = ctx.ns('expiry');
    const kept = await keepLease(store, { ttlSeconds: 1 });
    const left = await store.grantLease(1);
    await store.put({ key: `${ns}kept`, value: 'k', lease: kept.id });
    await store.put({ key: `${ns}left`, value: 'l', lease: left.id });
    const start = performance.now();
    const ttlMs = left.ttlSeconds * 1000;
    await waitFor(
      'the unrenewed key to expire',
      async () => (await store.get(`${ns}left`)) === null,
      ttlMs + ctx.options.leaseExpiryBoundMs,
    );
    const elapsedMs = performance.now() - start;
    // Not before the TTL (allow 100 ms for the grant's round trip and clock granularity).
    assert.ok(elapsedMs >= ttlMs - 100, `expired after ${elapsedMs.toFixed(0)} ms, ttl ${String(ttlMs)} ms`);
    assert.equal(await store.leaseTimeToLive(left.id), null);
    await sleep(Math.max(0, kept.ttlSeconds * 1000 + 300 - (performance.now() - start)));
    assert.equal((await store.get(`${ns}kept`))?.value, 'k', 'the kept lease outlived its ttl');
    assert.equal(kept.lost, false);
    await kept.revoke();
    assert.equal(await store.get(`${ns}kept`), null);
  });

  it('the lease keeper reports lost when someone else revokes its lease', async () => {
    const { store } = ctx;
    const kept = await keepLease(store, { ttlSeconds: 2 });
    const lost = new Promise<string>((resolve) =>
      kept.on('lost', (reason) => {
        resolve(reason.code);
      }),
    );
    await store.revokeLease(kept.id);
    // Noticed at the next renewal, within ttl / 3.
    assert.equal(await lost, KvErrorCode.LeaseNotFound);
  });
}
