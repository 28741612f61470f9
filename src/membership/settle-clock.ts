import { SkeinError } from '../core/errors.ts';
import { CoreErrorCode } from '../core/errors.ts';
import type { SettleCommand } from './commands.ts';
import type { GroupChange } from './group-machine.ts';

/** Options of {@link SettleClock}. */
export interface SettleClockOptions {
  /**
   * How long to wait before proposing the same settle again when it has not been applied (the
   * proposal was lost or is slow). Default: 1000 ms.
   */
  readonly retryMs?: number;
}

/** A SETTLING group as the clock tracks it: the change it waits on and its settle period. */
export interface SettlingGroup {
  readonly group: string;
  readonly changeSeq: number;
  readonly settleMs: number;
}

interface Pending {
  readonly changeSeq: number;
  /** When the group may settle, on this leader's clock. */
  readonly settleAtMs: number;
  proposedAtMs: number | null;
}

/**
 * The leader's side of settling, pure: it remembers when (on the leader's own clock) each SETTLING
 * group last changed and says which settles are due. No timers: the driver calls {@link due} when
 * {@link nextDueMs} arrives and proposes the returned commands through the log.
 *
 * Only a leader has one. A new leader builds it with {@link SettleClock.forNewLeader}, which starts
 * a full settle period for every SETTLING group at that moment: the old leader's clock is not
 * comparable to ours, and waiting a little longer is always safe, while settling early is not.
 * SETTLED groups are never tracked, so a leader change never renumbers a group that did not change.
 *
 * Each group has its own settle period, so `due` and `nextDueMs` scan every SETTLING group; only
 * groups that changed within their settle period are here, which keeps the scan short.
 */
export class SettleClock {
  readonly #retryMs: number;
  readonly #pending = new Map<string, Pending>();
  #lastMs = Number.NEGATIVE_INFINITY;

  constructor(options: SettleClockOptions = {}) {
    const { retryMs = 1_000 } = options;
    if (!Number.isFinite(retryMs) || retryMs < 0) {
      throw new SkeinError(
        CoreErrorCode.InvalidConfig,
        `retryMs must be a non-negative number of ms, got ${retryMs}`,
      );
    }
    this.#retryMs = retryMs;
  }

  /** The clock of a leader that just took over: every SETTLING group starts a full period at `nowMs`. */
  static forNewLeader(
    settling: Iterable<SettlingGroup>,
    nowMs: number,
    options: SettleClockOptions = {},
  ): SettleClock {
    const clock = new SettleClock(options);
    for (const group of settling) clock.#track(group, nowMs);
    return clock;
  }

  /** Groups waiting to settle. */
  get size(): number {
    return this.#pending.size;
  }

  /** Feeds one change reported by {@link GroupMachine.apply}, applied on this leader at `nowMs`. */
  observe(change: GroupChange, nowMs: number): void {
    if (change.state === 'SETTLING') this.#track(change, nowMs);
    else this.#pending.delete(change.group);
  }

  /** The settles to propose at `nowMs`; each is returned again only after `retryMs` without being applied. */
  due(nowMs: number): SettleCommand[] {
    const now = this.#now(nowMs);
    const out: SettleCommand[] = [];
    for (const [group, p] of this.#pending) {
      if (p.settleAtMs > now) continue;
      if (p.proposedAtMs !== null && p.proposedAtMs + this.#retryMs > now) continue;
      p.proposedAtMs = now;
      out.push({ type: 'settle', group, changeSeq: p.changeSeq });
    }
    return out;
  }

  /** When {@link due} next has something to return (possibly in the past), or null when nothing waits. */
  nextDueMs(): number | null {
    let next: number | null = null;
    for (const p of this.#pending.values()) {
      const at =
        p.proposedAtMs === null ? p.settleAtMs : Math.max(p.settleAtMs, p.proposedAtMs + this.#retryMs);
      if (next === null || at < next) next = at;
    }
    return next;
  }

  #track(group: SettlingGroup, nowMs: number): void {
    const now = this.#now(nowMs);
    const known = this.#pending.get(group.group);
    if (known?.changeSeq === group.changeSeq) return; // same change seen again: keep its start time
    this.#pending.delete(group.group); // re-insert: `due` lists groups in the order they changed
    this.#pending.set(group.group, {
      changeSeq: group.changeSeq,
      settleAtMs: now + group.settleMs,
      proposedAtMs: null,
    });
  }

  /** A leader's clock must not run backwards; if the driver's does, we hold the last reading. */
  #now(nowMs: number): number {
    if (nowMs > this.#lastMs) this.#lastMs = nowMs;
    return this.#lastMs;
  }
}
