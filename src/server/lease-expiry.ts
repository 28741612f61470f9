import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import type { KvStore } from '../kv/index.ts';
import type { LeaseGrantResponse, LeaseKeepAliveResponse } from '../kv/types.ts';
import type { AppliedCommand, RaftNode } from '../raft/node.ts';

export interface LeaseExpiryOptions {
  readonly node: RaftNode;
  readonly store: KvStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How often the leader looks for expired leases. Default 100 ms. */
  readonly checkIntervalMs?: number;
  /** Expiry revocations proposed but not yet applied, at most. Default 512 (etcd revokes ≤ 1000/s). */
  readonly maxRevokesInFlight?: number;
}

/**
 * The leader's lease clock. Lease state (id, TTL, keys) is replicated; deadlines are not: only the
 * leader keeps them, in memory, and keepalives only move them — they never touch the log. When a
 * deadline passes the leader proposes `lease-revoke {expired: true}`, and the revocation is what
 * every member applies. A new leader gives every lease a fresh TTL (etcd's rule): a lease can
 * therefore outlive its holder by at most one TTL per leader change, and never expires while
 * keepalives reach the leader less than one TTL apart.
 */
export class LeaseExpiry {
  readonly #node: RaftNode;
  readonly #store: KvStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #checkIntervalMs: number;
  readonly #maxRevokesInFlight: number;
  /** Lease id → deadline (clock ms). Populated only while leader. */
  readonly #deadlines = new Map<number, number>();
  readonly #revoking = new Set<number>();
  #leader = false;
  #timer: TimerHandle | null = null;
  #stopped = false;

  constructor(options: LeaseExpiryOptions) {
    this.#node = options.node;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#checkIntervalMs = options.checkIntervalMs ?? 100;
    this.#maxRevokesInFlight = options.maxRevokesInFlight ?? 512;
    this.#node.on('role', this.#onRole);
    this.#node.on('applied', this.#onApplied);
    this.#onRole(this.#node.status().role);
  }

  /** True while this member is the leader and so decides expiry. */
  get isLeader(): boolean {
    return this.#leader;
  }

  /**
   * Renew a lease on the leader. Returns null when this member is not the leader (forward the
   * keepalive) and undefined when the lease does not exist here.
   */
  renew(id: number): LeaseKeepAliveResponse | null | undefined {
    if (!this.#leader) return null;
    const lease = this.#store.lease(id);
    if (lease === undefined || this.#revoking.has(id)) return undefined;
    this.#deadlines.set(id, this.#clock.now() + lease.grantedTtlSeconds * 1000);
    return { id, ttlSeconds: lease.grantedTtlSeconds };
  }

  /** Milliseconds before the leader expires `id`; -1 when not the leader or unknown. */
  remainingMs(id: number): number {
    const deadline = this.#leader ? this.#deadlines.get(id) : undefined;
    return deadline === undefined ? -1 : Math.max(0, deadline - this.#clock.now());
  }

  stop(): void {
    this.#stopped = true;
    this.#node.off('role', this.#onRole);
    this.#node.off('applied', this.#onApplied);
    this.#becomeFollower();
  }

  readonly #onRole = (role: string): void => {
    if (this.#stopped) return;
    if (role === 'leader' && !this.#leader) this.#becomeLeader();
    else if (role !== 'leader' && this.#leader) this.#becomeFollower();
  };

  #becomeLeader(): void {
    this.#leader = true;
    const now = this.#clock.now();
    // Fresh TTLs: the old leader's deadlines died with it, and its clock is not ours.
    for (const lease of this.#store.leases()) {
      this.#deadlines.set(lease.id, now + lease.grantedTtlSeconds * 1000);
    }
    this.#logger.debug({ leases: this.#deadlines.size }, 'lease clock started: every lease has a fresh TTL');
    this.#schedule();
  }

  #becomeFollower(): void {
    this.#leader = false;
    this.#deadlines.clear();
    this.#revoking.clear();
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  readonly #onApplied = (command: AppliedCommand, result: unknown): void => {
    if (!this.#leader) return;
    if (command.action === 'lease-grant') {
      const granted = result as LeaseGrantResponse;
      this.#deadlines.set(granted.id, this.#clock.now() + granted.ttlSeconds * 1000);
    } else if (command.action === 'lease-revoke') {
      const id = (command.params as { id: number }).id;
      this.#deadlines.delete(id);
      this.#revoking.delete(id);
    }
  };

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      if (!this.#leader || this.#stopped) return;
      this.#expire();
      this.#schedule();
    }, this.#checkIntervalMs);
  }

  #expire(): void {
    const now = this.#clock.now();
    for (const [id, deadline] of this.#deadlines) {
      if (this.#revoking.size >= this.#maxRevokesInFlight) return;
      if (deadline > now || this.#revoking.has(id)) continue;
      this.#revoking.add(id);
      this.#node.enqueue('lease-revoke', { id, expired: true }).then(
        () => {
          this.#logger.debug({ lease: id }, 'lease expired');
        },
        (error: unknown) => {
          // Not applied (lost leadership, timeout, already revoked): look again next round.
          this.#revoking.delete(id);
          if (this.#store.lease(id) === undefined) this.#deadlines.delete(id);
          this.#logger.debug({ lease: id, err: error }, 'lease expiry not applied; will retry');
        },
      );
    }
  }
}
