import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import { SettleClock, type GroupChange } from '../membership/index.ts';
import type { RaftNode } from '../raft/node.ts';
import type { CoordinationState } from './coordination-state.ts';

export interface GroupSettlerOptions {
  readonly node: RaftNode;
  readonly state: CoordinationState;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long to wait before proposing a settle again when it was not applied. Default 1000 ms. */
  readonly retryMs?: number;
}

/**
 * The leader's settle driver: a {@link SettleClock} fed with every group change this member
 * applies, and a timer that proposes `group-settle` through the log when a group has gone its
 * settle period without a change. Followers keep nothing. A new leader starts a full period for
 * every SETTLING group (settling late is safe, early is not) and never touches a SETTLED one, so
 * a failover does not renumber a group whose members did not change.
 */
export class GroupSettler {
  readonly #node: RaftNode;
  readonly #state: CoordinationState;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #retryMs: number;
  #settleClock: SettleClock | null = null;
  #timer: TimerHandle | null = null;
  #timerAtMs = Number.POSITIVE_INFINITY;
  #stopped = false;
  readonly #unsubscribe: (() => void)[] = [];

  constructor(options: GroupSettlerOptions) {
    this.#node = options.node;
    this.#state = options.state;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#retryMs = options.retryMs ?? 1_000;
    this.#node.on('role', this.#onRole);
    this.#unsubscribe.push(
      this.#state.onGroupChanges(this.#onChanges),
      this.#state.onRestore(() => {
        if (this.#settleClock !== null) this.#startClock();
      }),
    );
    this.#onRole(this.#node.status().role);
  }

  /** True while this member is the leader and so decides settles. */
  get isLeader(): boolean {
    return this.#settleClock !== null;
  }

  stop(): void {
    this.#stopped = true;
    this.#node.off('role', this.#onRole);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#stopClock();
  }

  readonly #onRole = (role: string): void => {
    if (this.#stopped) return;
    if (role === 'leader' && this.#settleClock === null) this.#startClock();
    else if (role !== 'leader' && this.#settleClock !== null) this.#stopClock();
  };

  readonly #onChanges = (changes: readonly GroupChange[]): void => {
    const settleClock = this.#settleClock;
    if (settleClock === null) return;
    const now = this.#clock.now();
    for (const change of changes) settleClock.observe(change, now);
    this.#arm();
  };

  #startClock(): void {
    const settling = this.#state.groups.settlingGroups();
    this.#settleClock = SettleClock.forNewLeader(settling, this.#clock.now(), { retryMs: this.#retryMs });
    if (settling.length > 0) this.#logger.info({ groups: settling.length }, 'settle clock started');
    this.#disarm();
    this.#arm();
  }

  #stopClock(): void {
    this.#settleClock = null;
    this.#disarm();
  }

  /** Keep one timer, at the earliest due time. */
  #arm(): void {
    const next = this.#settleClock?.nextDueMs() ?? null;
    if (next === null || next >= this.#timerAtMs) return;
    this.#disarm();
    this.#timerAtMs = next;
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, next - this.#clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
  }

  readonly #fire = (): void => {
    this.#timer = null;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
    const settleClock = this.#settleClock;
    if (settleClock === null || this.#stopped) return;
    // The clock is this leader's: its settles are proposed fenced to its term, so that a 'role'
    // event trailing the core cannot have them forwarded to (and carried out by) a new leader.
    // (Not leading any more: nothing is proposed, and the clock stops with the 'role' event.)
    const term = this.#node.leadingTerm;
    for (const settle of settleClock.due(this.#clock.now())) {
      if (term === null) continue;
      const command = { group: settle.group, changeSeq: settle.changeSeq };
      this.#node.enqueue('group-settle', command, { leaderTerm: term }).then(
        () => {
          this.#logger.debug({ group: settle.group }, 'group settle applied');
        },
        (error: unknown) => {
          // Lost leadership, a timeout, or the group changed meanwhile: the clock retries if due.
          this.#logger.debug({ group: settle.group, err: error }, 'group settle not applied');
        },
      );
    }
    this.#arm();
  };
}
