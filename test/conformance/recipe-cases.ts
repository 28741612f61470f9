// The recipes on the real store: lock, election, service registry.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { keepLease } from '../../src/client/lease-keeper.ts';
import { election, type Leader } from '../../src/client/recipes/election.ts';
import { RecipeErrorCode } from '../../src/client/recipes/errors.ts';
import { lock, type Lock } from '../../src/client/recipes/lock.ts';
import { serviceRegistry, type ServiceInstance } from '../../src/client/recipes/service-registry.ts';
import { rejectsWith, sleep, waitFor, type SuiteContext } from './helpers.ts';

export function recipeCases(ctx: SuiteContext): void {
  it('lock: mutual exclusion among 4 contenders, fencing tokens increase with each holder', async () => {
    const { store } = ctx;
    const prefix = ctx.ns('lock');
    let inside = 0;
    const tokens: number[] = [];
    const contender = async (): Promise<void> => {
      for (let round = 0; round < 3; round++) {
        const held = await lock(store, 'mutex', { prefix, ttlSeconds: 5 });
        inside += 1;
        assert.equal(inside, 1, 'two holders at once');
        tokens.push(held.fencingToken);
        await sleep(5);
        inside -= 1;
        await held.unlock();
      }
    };
    await Promise.all([contender(), contender(), contender(), contender()]);
    assert.equal(tokens.length, 12);
    for (let i = 1; i < tokens.length; i++)
      assert.ok(tokens[i]! > tokens[i - 1]!, `tokens ${tokens.join(',')}`);
    assert.equal((await store.range({ key: prefix, prefix: true })).count, 0, 'every key released');
  });

  it('lock: a waiter can give up (AbortSignal); its queue key is removed', async () => {
    const { store } = ctx;
    const prefix = ctx.ns('lock-abort');
    const holder = await lock(store, 'm', { prefix });
    const controller = new AbortController();
    const waiting = lock(store, 'm', { prefix, signal: controller.signal });
    await waitFor(
      'the waiter to queue',
      async () => (await store.range({ key: prefix, prefix: true })).count === 2,
    );
    controller.abort();
    await rejectsWith(waiting, RecipeErrorCode.Aborted);
    assert.equal((await store.range({ key: prefix, prefix: true })).count, 1);
    await holder.unlock();
  });

  it('lock: a holder whose lease is lost gets "lost", and the next waiter takes over with a higher token', async () => {
    const { store } = ctx;
    const prefix = ctx.ns('lock-lost');
    const first = await lock(store, 'm', { prefix, ttlSeconds: 5 });
    const lostCode = new Promise<string>((resolve) =>
      first.on('lost', (reason) => {
        resolve(reason.code);
      }),
    );
    const second = lock(store, 'm', { prefix, ttlSeconds: 5 });
    await waitFor(
      'the waiter to queue',
      async () => (await store.range({ key: prefix, prefix: true })).count === 2,
    );
    await store.revokeLease(first.leaseId); // as if the holder's lease expired
    const next: Lock = await second;
    assert.ok([RecipeErrorCode.LockLost, 'SKEIN_LEASE_NOT_FOUND'].includes(await lostCode));
    assert.equal(first.lost, true);
    assert.ok(next.fencingToken > first.fencingToken);
    await first.unlock(); // harmless after loss
    assert.equal(
      (await store.get(next.key))?.createRevision,
      next.fencingToken,
      "unlock after loss left the new holder's key alone",
    );
    await next.unlock();
  });

  it('election: campaign, observe, proclaim, handover on resign and on lease loss', async () => {
    const { store } = ctx;
    const prefix = ctx.ns('election');
    const seen: (Leader | null)[] = [];
    const observer = await election(store, 'e', { prefix }).observe((leader) => seen.push(leader));
    const a = election(store, 'e', { prefix, ttlSeconds: 5 });
    const b = election(store, 'e', { prefix, ttlSeconds: 5 });
    const cLease = await keepLease(store, { ttlSeconds: 1 });
    const c = election(store, 'e', { prefix, lease: cLease });
    await a.campaign('a');
    assert.equal(a.isLeader, true);
    const candidates = async (): Promise<number> => (await store.range({ key: prefix, prefix: true })).count;
    const bWon = b.campaign('b');
    await waitFor('b to queue', async () => (await candidates()) === 2); // queue order: a, b, c
    const cWon = c.campaign('c');
    await waitFor('c to queue', async () => (await candidates()) === 3);
    assert.equal((await a.leader())?.value, 'a');
    await a.proclaim('a2');
    await rejectsWith(b.proclaim('b!'), RecipeErrorCode.NotElected);
    await a.resign();
    await bWon;
    assert.equal(b.isLeader, true);
    assert.equal((await b.leader())?.value, 'b');
    const bLost = new Promise<string>((resolve) =>
      b.on('lost', (reason) => {
        resolve(reason.code);
      }),
    );
    await store.revokeLease((await b.leader())!.leaseId);
    await bLost;
    assert.equal(b.isLeader, false);
    await cWon;
    assert.equal(c.isLeader, true);
    await waitFor('the observer to see c', () => seen.at(-1)?.value === 'c');
    assert.deepEqual(
      seen.map((leader) => leader?.value ?? null),
      [null, 'a', 'a2', 'b', 'c'],
    );
    const terms = seen.flatMap((leader) => (leader === null ? [] : [leader.createRevision]));
    const [termA, termA2, termB, termC] = terms;
    assert.equal(termA2, termA, 'proclaim keeps the term');
    assert.ok(termB! > termA! && termC! > termB!, 'each new leader has a higher createRevision');
    // c "crashes": its lease is no longer renewed and expires by itself.
    cLease.stop();
    await waitFor(
      'c to expire',
      async () => (await c.leader()) === null,
      1000 + ctx.options.leaseExpiryBoundMs,
    );
    // The read above can see the expiry before the observer's watch delivers it.
    await waitFor('the observer to see no leader', () => seen.at(-1) === null);
    await observer.cancel();
    assert.equal(seen.at(-1), null);
  });

  it('service registry: register, list, watch updates, deregister and TTL expiry', async () => {
    const { store } = ctx;
    const registry = serviceRegistry(store, ctx.ns('services').slice(0, -1));
    const snapshots: ServiceInstance[][] = [];
    const view = await registry.watch('api', (instances) => snapshots.push(instances));
    const one = await registry.register({
      service: 'api',
      id: 'one',
      address: '10.0.0.1:80',
      metadata: { zone: 'a' },
    });
    const crashLease = await keepLease(store, { ttlSeconds: 1 });
    await registry.register({ service: 'api', id: 'two', address: '10.0.0.2:80', lease: crashLease });
    await registry
      .register({ service: 'other', id: 'x', address: '10.0.0.9:80', ttlSeconds: 5 })
      .then((r) => r.deregister());
    const listed = await registry.list('api');
    assert.deepEqual(
      listed.map((i) => [i.id, i.address, i.metadata]),
      [
        ['one', '10.0.0.1:80', { zone: 'a' }],
        ['two', '10.0.0.2:80', {}],
      ],
    );
    await one.update({ zone: 'b' });
    await waitFor('the update', () => snapshots.at(-1)?.find((i) => i.id === 'one')?.metadata.zone === 'b');
    crashLease.stop(); // "two" stops renewing: the TTL check fails
    const expiredAfter = await waitFor(
      'two to expire',
      () => snapshots.at(-1)?.length === 1,
      1000 + ctx.options.leaseExpiryBoundMs,
    );
    assert.ok(expiredAfter >= 500, `expired after ${expiredAfter.toFixed(0)} ms`);
    await one.deregister();
    await waitFor('one to go', () => snapshots.at(-1)?.length === 0);
    // One snapshot first, then one per change: register, register, update, expiry, deregister.
    assert.deepEqual(
      snapshots.map((s) => s.map((i) => i.id).join('+')),
      ['', 'one', 'one+two', 'one+two', 'one', ''],
    );
    await view.cancel();
  });
}
