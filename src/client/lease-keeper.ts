/**
 * Keep a lease alive on any `CoordinationStore`, and say so — once — when it is gone.
 *
 * The keeper renews with `keepAliveOnce` every `renewIntervalMs` (default ttl / 3, so two renewals
 * can fail before the lease is at risk) and retries transient failures every `retryIntervalMs`.
 * A renewal with no answer after `renewTimeoutMs` counts as failed: a member that stops answering
 * without closing its connections (paused, cut off) would otherwise hold the one renewal in flight
 * for the whole request timeout, and the lease would run out while the other members could have
 * renewed it. skein's client moves to the next member after such a failure.
 * It tracks a local deadline by its own clock: a renewal *sent* at local time t that succeeds with
 * ttl T proves the lease lives until at least t + T (the store started its TTL after it received
 * the request). When that deadline passes without a successful renewal, or the store says the lease
 * does not exist, the keeper emits 'lost' exactly once and stops. Whoever relies on the lease (a
 * lock holder, a leader) must stop acting on it then: by the keeper's clock the store may have
 * expired it already. Clock rate differences between client and store are not covered; keep
 * the TTL large against them.
 */
import { RealClock, type Clock, type TimerHandle } from '../core/clock.ts';
import { SkeinError } from '../core/errors.ts';
import { KvErrorCode } from '../kv/errors.ts';
import type { LeaseKeepAliveResponse } from '../kv/types.ts';
import { checkMsOption } from './ms-option.ts';
import type { CoordinationStore } from './types.ts';

export const LeaseKeeperErrorCode = {
  /** No renewal succeeded before the lease would have expired (by the keeper's clock). */
  LeaseLost: 'SKEIN_LEASE_LOST',
} as const;

/** How a keeper renews; shared by {@link keepLease} and {@link adoptLease}. */
export interface LeaseKeeperOptions {
  /** Renew this often. Default ttl / 3 (at most ttl / 2 is accepted). */
  readonly renewIntervalMs?: number;
  /** After a failed renewal, try again this soon. Default renewInterval / 5, at least 50 ms. */
  readonly retryIntervalMs?: number;
  /** Give up on a renewal that has no answer after this long, and retry. Default renewInterval / 2. */
  readonly renewTimeoutMs?: number;
  /** Time source (a VirtualClock in tests). Default RealClock. */
  readonly clock?: Clock;
  /** Told about every renewal that failed but may succeed on retry. */
  readonly onRenewError?: (error: unknown) => void;
  /** Told about every renewal that succeeded, with the store's answer. */
  readonly onRenewed?: (answer: LeaseKeepAliveResponse) => void;
}

export interface KeepLeaseOptions extends LeaseKeeperOptions {
  /** TTL to grant, in whole seconds. */
  readonly ttlSeconds: number;
}

export type LeaseLostListener = (reason: SkeinError) => void;

/** A lease kept alive in the background. */
export interface LeaseHandle {
  readonly id: number;
  /** TTL the store granted (it may raise a small TTL to its minimum). */
  readonly ttlSeconds: number;
  /** True after 'lost' was emitted. */
  readonly lost: boolean;
  /** Local clock time until which the lease is known to live. */
  readonly expiresAtMs: number;
  /** 'lost': the lease is gone or could not be renewed in time. Emitted at most once; a late listener is called at once. */
  on(event: 'lost', listener: LeaseLostListener): this;
  off(event: 'lost', listener: LeaseLostListener): this;
  /** Stop renewing and revoke the lease (deleting its keys). Does not emit 'lost'. */
  revoke(): Promise<void>;
  /** Stop renewing without revoking: the lease expires by itself after its TTL. Does not emit 'lost'. */
  stop(): void;
}

/** Grant a lease with `ttlSeconds` and keep it alive until revoked, stopped or lost. */
export async function keepLease(store: CoordinationStore, options: KeepLeaseOptions): Promise<LeaseHandle> {
  checkIntervals(options);
  const clock = options.clock ?? new RealClock();
  const sentAtMs = clock.now();
  const grant = await store.grantLease(options.ttlSeconds);
  return new LeaseKeeper(store, grant.id, grant.ttlSeconds, sentAtMs, clock, options);
}

/**
 * Keep alive a lease that already exists (granted elsewhere, by id), as {@link keepLease} keeps
 * its own: renew it once now, which gives its TTL and starts the local deadline, then on the
 * keeper's cadence. `onRenewed` hears that first renewal too. Rejects with SKEIN_LEASE_NOT_FOUND
 * when the lease does not exist. Losing the lease later (it was revoked, or no renewal succeeded
 * within its TTL) is reported by 'lost', as for a granted one.
 *
 * @example
 * const lease = await adoptLease(store, 7, { onRenewed: (a) => console.log(`renewed, ttl ${a.ttlSeconds}s`) });
 * lease.on('lost', (reason) => console.error(reason.code));
 */
export async function adoptLease(
  store: CoordinationStore,
  leaseId: number,
  options: LeaseKeeperOptions = {},
): Promise<LeaseHandle> {
  checkIntervals(options);
  const clock = options.clock ?? new RealClock();
  const sentAtMs = clock.now();
  const first = await store.keepAliveOnce(leaseId);
  options.onRenewed?.(first);
  return new LeaseKeeper(store, leaseId, first.ttlSeconds, sentAtMs, clock, options);
}

function checkIntervals(options: LeaseKeeperOptions): void {
  for (const name of ['renewIntervalMs', 'retryIntervalMs', 'renewTimeoutMs'] as const) {
    checkMsOption(name, options[name], { least: 1 });
  }
}

class LeaseKeeper implements LeaseHandle {
  readonly id: number;
  readonly ttlSeconds: number;
  readonly #store: CoordinationStore;
  readonly #clock: Clock;
  readonly #options: LeaseKeeperOptions;
  readonly #renewIntervalMs: number;
  readonly #retryIntervalMs: number;
  readonly #renewTimeoutMs: number;
  readonly #listeners = new Set<LeaseLostListener>();
  #expiresAtMs: number;
  #lostReason: SkeinError | null = null;
  #stopped = false;
  #renewTimer: TimerHandle | null = null;
  #deadlineTimer: TimerHandle | null = null;

  constructor(
    store: CoordinationStore,
    id: number,
    ttlSeconds: number,
    sentAtMs: number,
    clock: Clock,
    options: LeaseKeeperOptions,
  ) {
    this.id = id;
    this.ttlSeconds = ttlSeconds;
    this.#store = store;
    this.#clock = clock;
    this.#options = options;
    const ttlMs = ttlSeconds * 1000;
    this.#renewIntervalMs = Math.min(options.renewIntervalMs ?? ttlMs / 3, ttlMs / 2);
    this.#retryIntervalMs = options.retryIntervalMs ?? Math.max(50, this.#renewIntervalMs / 5);
    this.#renewTimeoutMs = options.renewTimeoutMs ?? this.#renewIntervalMs / 2;
    this.#expiresAtMs = sentAtMs + ttlMs;
    this.#armDeadline();
    this.#schedule(this.#renewIntervalMs - (clock.now() - sentAtMs));
  }

  get lost(): boolean {
    return this.#lostReason !== null;
  }

  get expiresAtMs(): number {
    return this.#expiresAtMs;
  }

  on(_event: 'lost', listener: LeaseLostListener): this {
    if (this.#lostReason !== null) listener(this.#lostReason);
    else this.#listeners.add(listener);
    return this;
  }

  off(_event: 'lost', listener: LeaseLostListener): this {
    this.#listeners.delete(listener);
    return this;
  }

  async revoke(): Promise<void> {
    const wasLost = this.lost;
    this.stop();
    if (wasLost) return;
    try {
      await this.#store.revokeLease(this.id);
    } catch (error) {
      if (!(error instanceof SkeinError && error.code === KvErrorCode.LeaseNotFound)) throw error;
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#clearTimers();
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#renewTimer = this.#clock.setTimeout(() => void this.#renew(), Math.max(0, delayMs));
  }

  async #renew(): Promise<void> {
    this.#renewTimer = null;
    if (this.#stopped) return;
    const sentAtMs = this.#clock.now();
    let response: LeaseKeepAliveResponse;
    try {
      response = await this.#store.keepAliveOnce(this.id, { timeoutMs: this.#renewTimeoutMs });
    } catch (error) {
      if (this.#isStopped()) return;
      if (error instanceof SkeinError && error.code === KvErrorCode.LeaseNotFound) {
        this.#lose(error);
        return;
      }
      this.#options.onRenewError?.(error);
      this.#schedule(this.#retryIntervalMs);
      return;
    }
    if (this.#isStopped()) return; // revoked, stopped or lost while the renewal was in flight
    this.#expiresAtMs = Math.max(this.#expiresAtMs, sentAtMs + response.ttlSeconds * 1000);
    this.#armDeadline();
    this.#schedule(this.#renewIntervalMs - (this.#clock.now() - sentAtMs));
    this.#options.onRenewed?.(response);
  }

  #armDeadline(): void {
    if (this.#deadlineTimer !== null) this.#clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = this.#clock.setTimeout(() => {
      this.#deadlineTimer = null;
      this.#lose(
        new SkeinError(
          LeaseKeeperErrorCode.LeaseLost,
          `lease ${String(this.id)} could not be renewed before its ttl of ${String(this.ttlSeconds)} s ran out: ` +
            'stop relying on it and start over with a new lease',
          { details: { lease: this.id } },
        ),
      );
    }, this.#expiresAtMs - this.#clock.now());
  }

  #lose(reason: SkeinError): void {
    if (this.#stopped) return;
    this.#lostReason = reason;
    this.stop();
    // Best effort: if the store still has the lease, free what hangs on it now rather than at expiry.
    if (reason.code === LeaseKeeperErrorCode.LeaseLost)
      this.#store.revokeLease(this.id).catch(() => undefined);
    for (const listener of this.#listeners) listener(reason);
    this.#listeners.clear();
  }

  #isStopped(): boolean {
    return this.#stopped;
  }

  #clearTimers(): void {
    if (this.#renewTimer !== null) this.#clock.clearTimeout(this.#renewTimer);
    if (this.#deadlineTimer !== null) this.#clock.clearTimeout(this.#deadlineTimer);
    this.#renewTimer = null;
    this.#deadlineTimer = null;
  }
}
