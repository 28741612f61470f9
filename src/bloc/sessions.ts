import type { Clock } from '../core/clock.ts';
import { SkeinError } from '../core/errors.ts';
import {
  AssignmentStrategy,
  MembershipErrorCode,
  type GroupCoordinator,
  type GroupView,
  type MemberStatus,
} from '../membership/index.ts';
import { BlocErrorCode } from './errors.ts';

/**
 * The coordinator calls the bloc endpoint makes: a member's four, plus leave and a group read.
 * `SkeinClient` (skein/client) satisfies it.
 */
export interface BlocCoordinator extends GroupCoordinator {
  leaveGroup(group: string, member: string): Promise<void>;
  getGroup(group: string): Promise<GroupView | null>;
}

export interface BlocSessionsOptions {
  readonly coordinator: BlocCoordinator;
  readonly group: string;
  /** TTL of each session's lease: bloc's `-t`, rounded up to whole seconds. */
  readonly ttlSeconds: number;
  /** The group's settle period (bloc's `-s` × 1000), fixed by the join that creates the group. */
  readonly settleMs: number;
  /** Sessions tracked at most; a new one beyond this is refused with SKEIN_BLOC_TOO_MANY_SESSIONS. */
  readonly maxSessions: number;
  /** Deadline of one heartbeat to the coordinator. */
  readonly heartbeatTimeoutMs: number;
  readonly clock: Clock;
}

interface Known {
  readonly lease: number;
  lastSeenMs: number;
}

interface Pending {
  readonly kind: 'index' | 'leave';
  readonly promise: Promise<unknown>;
}

/** The errors that mean "this session is gone from the coordinator": join again. */
const LOST_SESSION = new Set<string>([MembershipErrorCode.NotMember, 'SKEIN_LEASE_NOT_FOUND']);

/** Rounds of heartbeat / look-up / join one request may take before it gives up (503). */
const MAX_ATTEMPTS = 4;

function codeOf(error: unknown): string {
  return error instanceof SkeinError ? error.code : '';
}

/**
 * bloc sessions mapped onto skein group members: a session id is a member id, and its session is
 * a lease whose TTL is bloc's timeout. The lease id is remembered per session (bounded, swept
 * when unseen for longer than the TTL); a session this endpoint does not know — after a restart,
 * or served by another endpoint before — is looked up in the group, so its member is kept rather
 * than re-joined (which would make the whole group settle again).
 *
 * Calls for one session never overlap: concurrent GETs share one coordinator call, and a DELETE
 * waits for whatever is in flight. Otherwise two racing GETs of a new session would join it twice.
 */
export class BlocSessions {
  readonly #options: BlocSessionsOptions;
  readonly #known = new Map<string, Known>();
  /** One entry per session with a request in flight: bounded by the endpoint's open connections. */
  readonly #pending = new Map<string, Pending>();

  constructor(options: BlocSessionsOptions) {
    this.#options = options;
  }

  /** Sessions currently remembered. */
  get size(): number {
    return this.#known.size;
  }

  /** Heartbeat `sessionId`, joining it first when it is not (or no longer) a member. */
  index(sessionId: string): Promise<MemberStatus> {
    return this.#exclusive(sessionId, 'index', () => this.#index(sessionId));
  }

  /**
   * Remove `sessionId` from the group and end its lease.
   * @throws SkeinError SKEIN_MEMBERSHIP_NOT_MEMBER when it is not a member.
   */
  leave(sessionId: string): Promise<void> {
    return this.#exclusive(sessionId, 'leave', () => this.#leave(sessionId));
  }

  /** Forget sessions unseen for longer than their TTL (their leases have expired). Returns how many. */
  sweep(): number {
    const cutoff = this.#options.clock.now() - this.#options.ttlSeconds * 1000 - 1000;
    let dropped = 0;
    for (const [id, known] of this.#known) {
      if (known.lastSeenMs < cutoff && !this.#pending.has(id)) {
        this.#known.delete(id);
        dropped++;
      }
    }
    return dropped;
  }

  async #exclusive<T>(sessionId: string, kind: Pending['kind'], run: () => Promise<T>): Promise<T> {
    for (let current = this.#pending.get(sessionId); current !== undefined;) {
      if (kind === 'index' && current.kind === 'index') return current.promise as Promise<T>;
      await current.promise.catch(() => undefined);
      const next = this.#pending.get(sessionId);
      current = next === current ? undefined : next;
    }
    const promise = run();
    const entry: Pending = { kind, promise };
    this.#pending.set(sessionId, entry);
    try {
      return await promise;
    } finally {
      if (this.#pending.get(sessionId) === entry) this.#pending.delete(sessionId);
    }
  }

  /**
   * Heartbeat the lease this endpoint knows for the session; else the one the group holds for it
   * (after a restart, or when another endpoint of the same group served it); else join. A lost
   * lease or a join that another endpoint's join overtook sends it round again, a bounded number
   * of times.
   */
  async #index(sessionId: string): Promise<MemberStatus> {
    let lease = this.#known.get(sessionId)?.lease;
    // Refuse a new session before it touches the group: refusing it after a join or a heartbeat
    // would leave a member that holds an index it never hears about.
    if (lease === undefined) this.#makeRoom();
    let lookedUp = false;
    let lost: number | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (lease === undefined && !lookedUp) {
        const found = await this.#lookup(sessionId);
        lookedUp = true;
        lease = found === lost ? undefined : found;
      }
      if (lease !== undefined) {
        const status = await this.#heartbeat(sessionId, lease);
        if (status !== null) return status;
        [lost, lease] = [lease, undefined];
        continue; // look the session up, or join if we just did
      }
      const status = await this.#join(sessionId);
      if (status !== null) return status;
      lookedUp = false; // another endpoint's join took the member: adopt its lease
    }
    throw new SkeinError(
      'SKEIN_UNAVAILABLE',
      `session ${sessionId} kept changing hands between endpoints of group ${this.#options.group}; retry`,
    );
  }

  /** The member's status, or null when `lease` no longer holds it (expired, revoked, re-bound). */
  async #heartbeat(sessionId: string, lease: number): Promise<MemberStatus | null> {
    const { coordinator, group, heartbeatTimeoutMs } = this.#options;
    try {
      const status = await coordinator.groupHeartbeat(
        { group, member: sessionId, session: lease },
        heartbeatTimeoutMs,
      );
      this.#remember(sessionId, lease);
      return status;
    } catch (error) {
      if (!LOST_SESSION.has(codeOf(error))) throw error;
      // The lease is gone or holds the member no more: nobody needs it any more.
      this.#known.delete(sessionId);
      void coordinator.revokeLease(lease).catch(() => undefined);
      return null;
    }
  }

  /** Join under a new lease; null when a concurrent join (another endpoint's) took the member. */
  async #join(sessionId: string): Promise<MemberStatus | null> {
    const { coordinator, group, ttlSeconds, settleMs } = this.#options;
    const { id: lease } = await coordinator.grantLease(ttlSeconds);
    try {
      const status = await coordinator.joinGroupMember({
        group,
        member: sessionId,
        session: lease,
        strategy: AssignmentStrategy.JoinOrder,
        settleMs,
      });
      this.#remember(sessionId, lease);
      return status;
    } catch (error) {
      await coordinator.revokeLease(lease).catch(() => undefined);
      if (codeOf(error) === MembershipErrorCode.NotMember) return null;
      throw error;
    }
  }

  async #leave(sessionId: string): Promise<void> {
    const { coordinator, group } = this.#options;
    const lease = this.#known.get(sessionId)?.lease ?? (await this.#lookup(sessionId));
    if (lease === undefined) {
      throw new SkeinError(
        MembershipErrorCode.NotMember,
        `session ${sessionId} is not a member of group ${group}; nothing to delete`,
      );
    }
    this.#known.delete(sessionId);
    try {
      await coordinator.leaveGroup(group, sessionId);
    } finally {
      // Also when the leave found no member: the lease is ours and nobody heartbeats it any more.
      await coordinator.revokeLease(lease).catch(() => undefined);
    }
  }

  /** The lease `sessionId` holds in the group, if it is a member this endpoint does not know yet. */
  async #lookup(sessionId: string): Promise<number | undefined> {
    const view = await this.#options.coordinator.getGroup(this.#options.group);
    return view?.members.find((m) => m.id === sessionId)?.session;
  }

  /** Room was made before the session's first request (overshoot ≤ concurrent requests). */
  #remember(sessionId: string, lease: number): void {
    const known = this.#known.get(sessionId);
    if (known?.lease === lease) known.lastSeenMs = this.#options.clock.now();
    else this.#known.set(sessionId, { lease, lastSeenMs: this.#options.clock.now() });
  }

  #makeRoom(): void {
    if (this.#known.size < this.#options.maxSessions || this.sweep() > 0) return;
    throw new SkeinError(
      BlocErrorCode.TooManySessions,
      `this endpoint already tracks ${this.#options.maxSessions} sessions; retry later or raise maxSessions`,
    );
  }
}
