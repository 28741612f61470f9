// Timing of the lease keeper on a VirtualClock. The store here is a scripted double that only
// answers lease calls, so each test can make renewals succeed, fail, hang or find the lease gone at
// exact virtual times. The keeper against real etcd and skein is covered by test/conformance.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../core/clock.ts';
import { SkeinError } from '../core/errors.ts';
import { kvError, KvErrorCode } from '../kv/errors.ts';
import type { LeaseKeepAliveResponse } from '../kv/types.ts';
import { adoptLease, keepLease, LeaseKeeperErrorCode } from './lease-keeper.ts';
import type { CoordinationStore } from './types.ts';

type KeepAlive = (atMs: number, timeoutMs: number | undefined) => Promise<LeaseKeepAliveResponse>;

function scriptedStore(clock: VirtualClock, keepAlive: KeepAlive) {
  const calls: number[] = [];
  const revoked: number[] = [];
  const unsupported = (): never => {
    throw new Error('not used by the lease keeper');
  };
  const store: CoordinationStore = {
    backend: 'skein',
    get: unsupported,
    range: unsupported,
    put: unsupported,
    deleteRange: unsupported,
    txn: unsupported,
    watch: unsupported,
    compact: unsupported,
    leaseTimeToLive: unsupported,
    grantLease: (ttlSeconds) => Promise.resolve({ id: 7, ttlSeconds, revision: 1 }),
    keepAliveOnce: (id, options) => {
      calls.push(clock.now());
      return keepAlive(clock.now(), options?.timeoutMs).then((r) => ({ ...r, id }));
    },
    revokeLease: () => {
      revoked.push(clock.now());
      return Promise.resolve({ revision: 2 });
    },
    close: () => Promise.resolve(),
  };
  return { store, calls, revoked };
}

const ok = (ttlSeconds: number): Promise<LeaseKeepAliveResponse> => Promise.resolve({ id: 7, ttlSeconds });
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Advance virtual time in 10 ms steps, letting promise callbacks run between steps. */
async function run(clock: VirtualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    clock.advance(10);
    await flush();
  }
}

describe('keepLease', () => {
  it('renews every ttl / 3 and never reports a healthy lease lost', async () => {
    const clock = new VirtualClock();
    const { store, calls } = scriptedStore(clock, () => ok(3));
    const lease = await keepLease(store, { ttlSeconds: 3, clock });
    let lost = false;
    lease.on('lost', () => (lost = true));
    await run(clock, 10_000);
    assert.deepEqual(calls, [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]);
    assert.equal(lost, false);
    assert.equal(lease.expiresAtMs, 13_000);
    lease.stop();
  });

  it('retries transient failures and keeps the lease when a retry succeeds in time', async () => {
    const clock = new VirtualClock();
    const failing = (at: number): boolean => at >= 1000 && at < 2500;
    const { store, calls } = scriptedStore(clock, (at) =>
      failing(at) ? Promise.reject(new SkeinError('SKEIN_UNAVAILABLE', 'down')) : ok(3),
    );
    const errors: unknown[] = [];
    const lease = await keepLease(store, { ttlSeconds: 3, clock, onRenewError: (e) => errors.push(e) });
    await run(clock, 3000);
    // Renewal at 1000 fails, then one retry every 1000 / 5 = 200 ms until 2600 succeeds.
    assert.deepEqual(calls, [1000, 1200, 1400, 1600, 1800, 2000, 2200, 2400, 2600]);
    assert.equal(errors.length, 8);
    assert.equal(lease.lost, false);
    assert.equal(lease.expiresAtMs, 5600);
    lease.stop();
  });

  it('reports lost exactly when the ttl runs out without a renewal, once, and revokes', async () => {
    const clock = new VirtualClock();
    const { store, revoked } = scriptedStore(clock, () => new Promise(() => undefined)); // hangs
    const lease = await keepLease(store, { ttlSeconds: 2, clock });
    const reasons: { code: string; atMs: number }[] = [];
    lease.on('lost', (reason) => reasons.push({ code: reason.code, atMs: clock.now() }));
    await run(clock, 5000);
    assert.deepEqual(reasons, [{ code: LeaseKeeperErrorCode.LeaseLost, atMs: 2000 }]);
    assert.deepEqual(revoked, [2000]);
    let late: string | undefined;
    lease.on('lost', (reason) => (late = reason.code)); // a late listener still hears it
    assert.equal(late, LeaseKeeperErrorCode.LeaseLost);
  });

  it('counts the ttl from when a renewal was sent, not when its answer came', async () => {
    const clock = new VirtualClock();
    let first = true;
    const { store } = scriptedStore(clock, () => {
      if (!first) return new Promise(() => undefined);
      first = false;
      // Answered 900 ms after it was sent (at 1000).
      return new Promise((resolve) => {
        clock.setTimeout(() => {
          resolve({ id: 7, ttlSeconds: 3 });
        }, 900);
      });
    });
    const lease = await keepLease(store, { ttlSeconds: 3, clock });
    let lostAt = -1;
    lease.on('lost', () => (lostAt = clock.now()));
    await run(clock, 6000);
    assert.equal(lostAt, 4000);
  });

  it('gives up on a renewal after renewTimeoutMs and retries, so one hung member cannot run the lease out', async () => {
    const clock = new VirtualClock();
    const timeouts: (number | undefined)[] = [];
    // The renewal sent at 1000 goes to a member that never answers; the store honours the timeout
    // it is given, as SkeinClient does (and then moves to the next member).
    const { store, calls } = scriptedStore(clock, (at, timeoutMs) => {
      timeouts.push(timeoutMs);
      if (at !== 1000) return ok(3);
      return new Promise((_, reject) => {
        clock.setTimeout(() => {
          reject(new SkeinError('SKEIN_UNAVAILABLE', 'no answer'));
        }, timeoutMs ?? Number.POSITIVE_INFINITY);
      });
    });
    const lease = await keepLease(store, { ttlSeconds: 3, clock });
    await run(clock, 3000);
    // Timed out at 1500 (renew interval / 2), retried 200 ms later.
    assert.deepEqual(calls, [1000, 1700, 2700]);
    assert.deepEqual(timeouts, [500, 500, 500]);
    assert.equal(lease.lost, false);
    assert.equal(lease.expiresAtMs, 5700);
    lease.stop();

    const tunedTimeouts: (number | undefined)[] = [];
    const custom = scriptedStore(clock, (_at, timeoutMs) => {
      tunedTimeouts.push(timeoutMs);
      return ok(3);
    });
    const tuned = await keepLease(custom.store, { ttlSeconds: 3, clock, renewTimeoutMs: 250 });
    await run(clock, 1000);
    assert.deepEqual(tunedTimeouts, [250]);
    tuned.stop();
  });

  it('refuses intervals that are not positive numbers', async () => {
    const clock = new VirtualClock();
    const { store } = scriptedStore(clock, () => ok(3));
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(keepLease(store, { ttlSeconds: 3, clock, renewTimeoutMs: bad }), {
        code: KvErrorCode.InvalidArgument,
      });
    }
    await assert.rejects(keepLease(store, { ttlSeconds: 3, clock, renewIntervalMs: 0 }), /renewIntervalMs/);
  });

  it('reports lost at the first renewal that finds the lease gone', async () => {
    const clock = new VirtualClock();
    const { store, calls, revoked } = scriptedStore(clock, (at) =>
      at < 2000 ? ok(3) : Promise.reject(kvError(KvErrorCode.LeaseNotFound, 'gone')),
    );
    const lease = await keepLease(store, { ttlSeconds: 3, clock });
    let reason: string | undefined;
    lease.on('lost', (r) => (reason = r.code));
    await run(clock, 5000);
    assert.equal(reason, KvErrorCode.LeaseNotFound);
    assert.deepEqual(calls, [1000, 2000]);
    assert.deepEqual(revoked, []);
  });

  it('revoke() stops renewing and does not report lost', async () => {
    const clock = new VirtualClock();
    const { store, calls, revoked } = scriptedStore(clock, () => ok(3));
    const lease = await keepLease(store, { ttlSeconds: 3, clock });
    lease.on('lost', () => assert.fail('revoked leases are not lost'));
    await run(clock, 1500);
    await lease.revoke();
    await run(clock, 5000);
    assert.deepEqual(calls, [1000]);
    assert.deepEqual(revoked, [1500]);
    assert.equal(clock.nextDueMs(), undefined);
  });
});

describe('adoptLease', () => {
  it('renews an existing lease at once, then every ttl / 3, and reports every renewal', async () => {
    const clock = new VirtualClock();
    clock.advance(500);
    const { store, calls } = scriptedStore(clock, () => ok(6));
    const renewed: { atMs: number; ttlSeconds: number }[] = [];
    const lease = await adoptLease(store, 7, {
      clock,
      onRenewed: (answer) => renewed.push({ atMs: clock.now(), ttlSeconds: answer.ttlSeconds }),
    });
    assert.equal(lease.id, 7);
    assert.equal(lease.ttlSeconds, 6, 'the TTL comes from the first renewal');
    assert.equal(lease.expiresAtMs, 6500, 'the deadline counts from when the first renewal was sent');
    await run(clock, 4500);
    assert.deepEqual(calls, [500, 2500, 4500]);
    assert.deepEqual(
      renewed.map((r) => r.atMs),
      [500, 2500, 4500],
    );
    assert.equal(lease.expiresAtMs, 10_500);
    lease.stop();
  });

  it('rejects with SKEIN_LEASE_NOT_FOUND when there is no such lease, and keeps nothing running', async () => {
    const clock = new VirtualClock();
    const { store } = scriptedStore(clock, () =>
      Promise.reject(kvError(KvErrorCode.LeaseNotFound, 'lease 7 not found')),
    );
    await assert.rejects(adoptLease(store, 7, { clock }), { code: KvErrorCode.LeaseNotFound });
    assert.equal(clock.nextDueMs(), undefined);
  });

  it('reports lost, and revokes, when no renewal succeeds within the adopted ttl', async () => {
    const clock = new VirtualClock();
    let answered = 0;
    const { store, revoked } = scriptedStore(clock, () =>
      answered++ === 0 ? ok(3) : Promise.reject(new SkeinError('SKEIN_UNAVAILABLE', 'no answer')),
    );
    const failures: unknown[] = [];
    const lease = await adoptLease(store, 7, { clock, onRenewError: (e) => failures.push(e) });
    let lostAt = -1;
    lease.on('lost', (reason) => {
      assert.equal(reason.code, LeaseKeeperErrorCode.LeaseLost);
      lostAt = clock.now();
    });
    await run(clock, 5000);
    assert.equal(lostAt, 3000);
    assert.deepEqual(revoked, [3000]);
    assert.ok(failures.length >= 5, `retried every 200 ms after the first failure (${failures.length})`);
  });
});
