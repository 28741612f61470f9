import type { Clock, TimerHandle } from '../core/clock.ts';
import { hasCode } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { KvStore } from '../kv/index.ts';
import type { LeaseGrantResponse, LeaseKeepAliveResponse } from '../kv/types.ts';
import { RaftErrorCode } from '../raft/errors.ts';
import type { RaftNode } from '../raft/node.ts';
import type { AppliedCommand } from '../raft/node-options.ts';

/** A pause of the lease clock at least this long is logged as a warning (shorter ones at debug). */
const NOTEWORTHY_PAUSE_MS = 1000;

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
 * therefore outlive its holder by at most one TTL per leader change (and by the leader's pauses,
 * below), and never expires while keepalives reach the leader less than one TTL apart.
 *
 * Two ways a leader's clock can be wrong, both seen in etcd (issues 12528 and 15247), are closed:
 * - A leader that has been deposed without hearing of it yet would accept keepalives for a clock
 *   nobody reads, and could revoke leases the real leader sees renewed. So a keepalive renews, and
 *   an expiry is proposed, only after a ReadIndex round has confirmed that this member still leads
 *   its term; the revocation is proposed fenced to that term, never forwarded to another leader.
 * - A leader whose process was paused (GC, a starved CPU, SIGSTOP) wakes with every deadline
 *   past while the keepalives sent meanwhile still wait unread in its sockets. A pause longer
 *   than a check interval pushes every deadline out by its length: holders are not blamed for the
 *   leader's pause.
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
  /** The term this member's clock runs for; null while it does not lead. */
  #leaderTerm: number | null = null;
  #lastCheckMs = 0;
  /** An expiry round is waiting for its leadership confirmation. */
  #confirming = false;
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
    const { role, term } = this.#node.status();
    this.#onRole(role, term);
  }

  /**
   * Renew a lease, once a ReadIndex round has confirmed that this member still leads (and has
   * applied everything committed before the call). Resolves null when this member does not lead
   * (forward the keepalive to the leader) and undefined when the lease does not exist.
   */
  async keepAlive(id: number): Promise<LeaseKeepAliveResponse | null | undefined> {
    return await this.whileLeading(() => this.#renew(id));
  }

  /**
   * Run `fn` once a ReadIndex round has confirmed that this member still leads the term it leads
   * now, so `fn` sees every command committed before the call. Resolves null, without running
   * `fn`, when this member does not lead or loses the lead meanwhile.
   */
  async whileLeading<T>(fn: () => T): Promise<T | null> {
    const term = this.#leaderTerm;
    if (term === null || !this.#leading()) return null;
    try {
      return await this.#node.read(() => (this.#leaderTerm === term && this.#leading() ? fn() : null));
    } catch (error) {
      if (hasCode(error, RaftErrorCode.NotLeader) || hasCode(error, RaftErrorCode.NoLeader)) return null;
      throw error;
    }
  }

  /**
   * Renew a lease from inside {@link whileLeading} (after the confirmation). Returns null when this
   * member does not lead and undefined when the lease does not exist here.
   */
  renewConfirmed(id: number): LeaseKeepAliveResponse | null | undefined {
    return this.#renew(id);
  }

  /** Milliseconds before the leader expires `id`; -1 when not the leader or unknown. */
  remainingMs(id: number): number {
    const deadline = this.#leading() ? this.#deadlines.get(id) : undefined;
    return deadline === undefined ? -1 : Math.max(0, deadline - this.#clock.now());
  }

  stop(): void {
    this.#stopped = true;
    this.#node.off('role', this.#onRole);
    this.#node.off('applied', this.#onApplied);
    this.#becomeFollower();
  }

  /** Leads by its own events and by its core right now (a 'role' event can trail the core). */
  #leading(): boolean {
    return this.#leaderTerm !== null && this.#node.leadingTerm === this.#leaderTerm;
  }

  #renew(id: number): LeaseKeepAliveResponse | null | undefined {
    if (!this.#leading()) return null;
    const lease = this.#store.lease(id);
    if (lease === undefined || this.#revoking.has(id)) return undefined;
    this.#deadlines.set(id, this.#clock.now() + lease.grantedTtlSeconds * 1000);
    return { id, ttlSeconds: lease.grantedTtlSeconds };
  }

  readonly #onRole = (role: string, term: number): void => {
    if (this.#stopped) return;
    if (role === 'leader' && this.#leaderTerm !== term) {
      this.#becomeFollower();
      this.#becomeLeader(term);
    } else if (role !== 'leader' && this.#leaderTerm !== null) {
      this.#becomeFollower();
    }
  };

  #becomeLeader(term: number): void {
    this.#leaderTerm = term;
    const now = this.#clock.now();
    this.#lastCheckMs = now;
    // Fresh TTLs: the old leader's deadlines died with it, and its clock is not ours.
    for (const lease of this.#store.leases()) {
      this.#deadlines.set(lease.id, now + lease.grantedTtlSeconds * 1000);
    }
    this.#logger.debug(
      { leases: this.#deadlines.size, term },
      'lease clock started: every lease has a fresh TTL',
    );
    this.#schedule();
  }

  #becomeFollower(): void {
    this.#leaderTerm = null;
    this.#deadlines.clear();
    this.#revoking.clear();
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  readonly #onApplied = (command: AppliedCommand, result: unknown): void => {
    if (this.#leaderTerm === null) return;
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
      if (this.#leaderTerm === null || this.#stopped) return;
      this.#check();
      this.#schedule();
    }, this.#checkIntervalMs);
  }

  #check(): void {
    const now = this.#clock.now();
    const pausedMs = now - this.#lastCheckMs - this.#checkIntervalMs;
    this.#lastCheckMs = now;
    if (pausedMs > this.#checkIntervalMs) {
      for (const [id, deadline] of this.#deadlines) this.#deadlines.set(id, deadline + pausedMs);
      // Short stalls are common on a busy machine; only a long one is worth an operator's attention.
      const level = pausedMs >= NOTEWORTHY_PAUSE_MS ? 'warn' : 'debug';
      this.#logger[level](
        { pausedMs: Math.round(pausedMs), leases: this.#deadlines.size },
        'the lease clock was paused (event loop blocked or process stopped): every deadline moves out by the pause',
      );
    }
    this.#expire(now);
  }

  /** Propose revocations for leases past their deadline, after confirming this member still leads. */
  #expire(now: number): void {
    if (this.#confirming) return;
    const due: number[] = [];
    for (const [id, deadline] of this.#deadlines) {
      if (this.#revoking.size + due.length >= this.#maxRevokesInFlight) break;
      if (deadline <= now && !this.#revoking.has(id)) due.push(id);
    }
    if (due.length === 0) return;
    const term = this.#leaderTerm!;
    this.#confirming = true;
    this.whileLeading(() => {
      const confirmedAt = this.#clock.now();
      for (const id of due) {
        const deadline = this.#deadlines.get(id);
        // Renewed while the confirmation was under way, revoked, or already being revoked.
        if (deadline === undefined || deadline > confirmedAt || this.#revoking.has(id)) continue;
        this.#revoke(id, term);
      }
    })
      .catch((error: unknown) => {
        this.#logger.debug({ err: error }, 'lease expiry round not confirmed; will retry');
      })
      .finally(() => {
        this.#confirming = false;
      });
  }

  #revoke(id: number, term: number): void {
    this.#revoking.add(id);
    this.#node.enqueue('lease-revoke', { id, expired: true }, { leaderTerm: term }).then(
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
