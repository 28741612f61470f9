import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { RealClock, type Clock, type TimerHandle } from '../core/clock.ts';
import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import type { AssignmentStrategy } from './assignment.ts';
import { GroupState, type MemberMetadata } from './commands.ts';
import { owns } from './hash.ts';
import type { GroupJoinRequest, MemberStatus } from './wire.ts';

/**
 * The four coordinator calls a member makes. `SkeinClient` (skein/client) is one; the simulator
 * provides another, so the same member code runs on virtual time.
 */
export interface GroupCoordinator {
  grantLease(ttlSeconds: number): Promise<{ id: number }>;
  revokeLease(id: number): Promise<unknown>;
  joinGroupMember(request: GroupJoinRequest): Promise<MemberStatus>;
  groupHeartbeat(
    request: { group: string; member: string; session: number },
    timeoutMs?: number,
  ): Promise<MemberStatus>;
}

/** Options of {@link joinGroup}. */
export interface JoinGroupOptions {
  /** This member's id in the group. Default: a random UUID (a new member on every start, as bloc). */
  readonly memberId?: string;
  /**
   * The member heartbeats (every ¾ of this) and treats itself as cut off — `indexTotal()` is null
   * — when it has not heard from the coordinator for this long. Default 1000.
   */
  readonly heartbeatIntervalMs?: number;
  /**
   * TTL of the session lease: the coordinator evicts the member this long after its last
   * heartbeat. Whole seconds, at least the heartbeat interval. Default: 3 heartbeat intervals.
   */
  readonly sessionTtlSeconds?: number;
  /** The group's settle period, if this join creates it. Default 5000. */
  readonly settleMs?: number;
  /** The group's strategy, if this join creates it. Default `sticky`. */
  readonly strategy?: AssignmentStrategy;
  readonly weight?: number;
  /** Published to the group (e.g. this member's address). */
  readonly metadata?: MemberMetadata;
  /** Injected for tests; default the real clock. */
  readonly clock?: Clock;
}

/** A member's assignment: its index in 1..total, under the group's settle `generation`. */
export interface IndexTotal {
  readonly index: number;
  readonly total: number;
  /** Increases at every settle: attach it to side effects as a fencing token. */
  readonly generation: number;
}

export interface GroupMemberEvents {
  /** The member got a (new) assignment. */
  settled: [IndexTotal];
  /** The member lost its assignment: the group is settling, or the coordinator is out of reach. */
  settling: [];
  /** A heartbeat or re-join failed (the member keeps trying). Only emitted when someone listens. */
  error: [Error];
}

/**
 * One member of a group: joins, heartbeats, re-joins with a new session if its session was lost,
 * and knows its `(index, total)`. See {@link joinGroup}.
 */
export class GroupMember extends EventEmitter<GroupMemberEvents> {
  readonly group: string;
  readonly id: string;
  readonly #client: GroupCoordinator;
  readonly #clock: Clock;
  readonly #heartbeatIntervalMs: number;
  readonly #sessionTtlSeconds: number;
  readonly #joinOptions: Partial<Pick<JoinGroupOptions, 'settleMs' | 'strategy' | 'weight' | 'metadata'>>;
  #session = 0;
  #status: MemberStatus | null = null;
  /** When the request behind `#status` was sent: the coordinator knew us alive at or after this. */
  #heardAtMs = Number.NEGATIVE_INFINITY;
  #published: IndexTotal | null = null;
  #timer: TimerHandle | null = null;
  #timerAtMs = Number.POSITIVE_INFINITY;
  /** While SETTLING: the earliest time the settle can be applied (on our clock), else null. */
  #settleDueFromMs: number | null = null;
  #inFlight = false;
  #left = false;

  /** @internal use {@link joinGroup} */
  constructor(client: GroupCoordinator, group: string, options: JoinGroupOptions) {
    super();
    this.#client = client;
    this.group = group;
    this.id = options.memberId ?? randomUUID();
    this.#clock = options.clock ?? new RealClock();
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1_000;
    if (!Number.isFinite(this.#heartbeatIntervalMs) || this.#heartbeatIntervalMs < 10) {
      throw new SkeinError(CoreErrorCode.InvalidConfig, 'heartbeatIntervalMs must be at least 10');
    }
    this.#sessionTtlSeconds =
      options.sessionTtlSeconds ?? Math.max(1, Math.ceil((3 * this.#heartbeatIntervalMs) / 1000));
    if (
      !Number.isInteger(this.#sessionTtlSeconds) ||
      this.#sessionTtlSeconds * 1000 < this.#heartbeatIntervalMs
    ) {
      throw new SkeinError(
        CoreErrorCode.InvalidConfig,
        'sessionTtlSeconds must be a whole number of seconds no shorter than heartbeatIntervalMs',
      );
    }
    const { settleMs, strategy, weight, metadata } = options;
    if (settleMs !== undefined && settleMs < this.#heartbeatIntervalMs) {
      throw new SkeinError(
        CoreErrorCode.InvalidConfig,
        `settleMs (${settleMs}) must be at least heartbeatIntervalMs (${this.#heartbeatIntervalMs}): a member ` +
          'may act on its old index for one heartbeat interval after a change',
      );
    }
    this.#joinOptions = definedOnly({ settleMs, strategy, weight, metadata });
  }

  /** The lease this member's session is bound to (changes if it had to re-join). */
  get session(): number {
    return this.#session;
  }

  /**
   * `{ index, total, generation }` while the group is SETTLED and the coordinator answered within
   * the last heartbeat interval; otherwise null — stop working on your share until it returns.
   */
  indexTotal(): IndexTotal | null {
    const status = this.#status;
    if (status?.index == null || status.total === null) return null;
    if (this.#clock.now() - this.#heardAtMs > this.#heartbeatIntervalMs) return null;
    return { index: status.index, total: status.total, generation: status.generation };
  }

  /** The generation of the current assignment, or null without one (see {@link indexTotal}). */
  get generation(): number | null {
    return this.indexTotal()?.generation ?? null;
  }

  /**
   * True when `key` is this member's share: `ownerIndex(key, total) === index` (XXH32 + jump hash,
   * reproducible in any language; see docs/membership.md). False without an assignment.
   */
  owns(key: string): boolean {
    const it = this.indexTotal();
    return it !== null && owns(it.index, it.total, key);
  }

  /** Leave the group and end the session now (the others settle without waiting for a TTL). */
  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#setStatus(null, Number.NEGATIVE_INFINITY);
    if (this.#session !== 0) await this.#client.revokeLease(this.#session).catch(() => undefined);
  }

  /** @internal first join; throws when the coordinator refuses (bad options, group mismatch). */
  async start(): Promise<void> {
    await this.#join();
    this.#schedule();
  }

  async #join(): Promise<void> {
    const sentAt = this.#clock.now();
    const lease = await this.#client.grantLease(this.#sessionTtlSeconds);
    this.#session = lease.id;
    const status = await this.#client
      .joinGroupMember({
        group: this.group,
        member: this.id,
        session: lease.id,
        // The coordinator refuses the join if the group settles sooner than we heartbeat: we could
        // keep acting on an old index after the others settled without us.
        heartbeatIntervalMs: Math.ceil(this.#heartbeatIntervalMs),
        ...this.#joinOptions,
      })
      .catch(async (error: unknown) => {
        await this.#client.revokeLease(lease.id).catch(() => undefined);
        this.#session = 0;
        throw error;
      });
    if (!this.#left) this.#setStatus(status, sentAt);
  }

  #schedule(): void {
    if (this.#left) return;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    const delayMs = this.#nextDelayMs();
    this.#timerAtMs = this.#clock.now() + delayMs;
    this.#timer = this.#clock.setTimeout(this.#tick, delayMs);
  }

  /**
   * Heartbeats go out every ¾ of the interval; but while the group is SETTLING and its settle may
   * be due, every ⅛ of it, so that a new assignment is seen within ⅛ interval of being applied
   * rather than ¾ (a crash-to-settled time close to TTL + settle period). Only the members of a
   * settling group, and only around the moment it can settle, poll faster.
   */
  #nextDelayMs(): number {
    const cadenceMs = Math.max(5, Math.floor((this.#heartbeatIntervalMs * 3) / 4));
    const fastMs = Math.max(5, Math.floor(this.#heartbeatIntervalMs / 8));
    const dueFrom = this.#settleDueFromMs;
    if (this.#status?.state !== GroupState.Settling || dueFrom === null) return cadenceMs;
    const now = this.#clock.now();
    if (now < dueFrom) return Math.min(cadenceMs, Math.max(fastMs, dueFrom - now));
    return now <= dueFrom + this.#heartbeatIntervalMs ? fastMs : cadenceMs;
  }

  readonly #tick = (): void => {
    this.#timer = null;
    if (this.#left) return;
    // The published assignment may have just gone stale: tell listeners before the next answer.
    this.#publish();
    if (!this.#inFlight) void this.#heartbeat();
    this.#schedule();
  };

  async #heartbeat(): Promise<void> {
    this.#inFlight = true;
    const sentAt = this.#clock.now();
    try {
      const status = await this.#client.groupHeartbeat(
        { group: this.group, member: this.id, session: this.#session },
        this.#heartbeatIntervalMs,
      );
      if (!this.#left) this.#setStatus(status, sentAt);
    } catch (error) {
      const code = error instanceof SkeinError ? error.code : '';
      if (!this.#left && (code === 'SKEIN_MEMBERSHIP_NOT_MEMBER' || code === 'SKEIN_LEASE_NOT_FOUND')) {
        // Our session is gone (expired while we were cut off): come back as a new incarnation.
        this.#setStatus(null, Number.NEGATIVE_INFINITY);
        await this.#join().catch((e: unknown) => {
          this.#report(e);
        });
      } else {
        this.#report(error);
      }
    } finally {
      this.#inFlight = false;
      this.#publish();
    }
  }

  #setStatus(status: MemberStatus | null, heardAtMs: number): void {
    const was = this.#status;
    if (status?.state === GroupState.Settling && was?.state !== GroupState.Settling) {
      // The change happened after our previous answer was sent: the settle is due no sooner than
      // that plus the settle period.
      const changedAfterMs = was === null ? heardAtMs : this.#heardAtMs;
      this.#settleDueFromMs = changedAfterMs + status.settleMs;
    }
    if (status?.state !== GroupState.Settling) this.#settleDueFromMs = null;
    this.#status = status;
    this.#heardAtMs = heardAtMs;
    // Entering the window where the settle may be due: heartbeat sooner than the regular tick.
    if (this.#timer !== null && this.#clock.now() + this.#nextDelayMs() < this.#timerAtMs) this.#schedule();
    this.#publish();
  }

  /** Emit `settled`/`settling` when what indexTotal() returns changed since last told. */
  #publish(): void {
    const now = this.indexTotal();
    const was = this.#published;
    if (now?.index === was?.index && now?.total === was?.total && now?.generation === was?.generation) return;
    this.#published = now;
    if (now === null) this.emit('settling');
    else this.emit('settled', now);
  }

  #report(error: unknown): void {
    if (this.listenerCount('error') > 0)
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }
}

/** `value` without its undefined fields (exactOptionalPropertyTypes: absent is not undefined). */
function definedOnly<T extends object>(value: { [K in keyof T]: T[K] | undefined }): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Join `group` on a skein coordinator and keep heartbeating until {@link GroupMember.leave}.
 *
 * @example
 * ```ts
 * const client = await connect({ endpoints: 'http://127.0.0.1:8420' });
 * const member = await joinGroup(client, 'workers', { heartbeatIntervalMs: 1000 });
 * member.on('settled', ({ index, total }) => console.log(`I am ${index} of ${total}`));
 * for (const job of jobs) if (member.owns(job.id)) await run(job, member.generation);
 * ```
 */
export async function joinGroup(
  client: GroupCoordinator,
  group: string,
  options: JoinGroupOptions = {},
): Promise<GroupMember> {
  if (typeof (client as Partial<GroupCoordinator>).joinGroupMember !== 'function') {
    throw new SkeinError(
      'SKEIN_UNSUPPORTED',
      'groups need a skein coordinator (skein server); they are not built on the etcd backend',
    );
  }
  const member = new GroupMember(client, group, options);
  await member.start();
  return member;
}
