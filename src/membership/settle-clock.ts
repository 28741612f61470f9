import { SkeinError } from '../core/errors.ts';
import { CoreErrorCode } from '../core/errors.ts';
import type { SettleCommand } from './commands.ts';
import type { GroupChange } from './group-machine.ts';

/** Options of {@link SettleClock}. */
export interface SettleClockOptions {
  /** How long a group must go without a change before it settles (bloc's `-s`). */
  readonly settleMs: number;
  /**
   * How long to wait before proposing the same settle again when it has not been applied (the
   * proposal was lost or is slow). Default: `settleMs`.
   */
  readonly retryMs?: number;
}

interface Pending {
  readonly changeSeq: number;
  readonly sinceMs: number;
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
 */
export class SettleClock {
  readonly #settleMs: number;
  readonly #retryMs: number;
  /** Insertion order is `sinceMs` order: times only grow (see #now) and a change re-inserts. */
  readonly #pending = new Map<string, Pending>();
  #lastMs = Number.NEGATIVE_INFINITY;

  constructor(options: SettleClockOptions) {
    const { settleMs, retryMs = settleMs } = options;
    for (const [name, value] of [
      ['settleMs', settleMs],
      ['retryMs', retryMs],
    ] as const) {
      if (!Number.isFinite(value) || value < 0) {
        throw new SkeinError(
          CoreErrorCode.InvalidConfig,
          `${name} must be a non-negative number of ms, got ${value}`,
        );
      }
    }
    this.#settleMs = settleMs;
    this.#retryMs = retryMs;
  }

  /** The clock of a leader that just took over: every SETTLING group starts a full period at `nowMs`. */
  static forNewLeader(
    settling: Iterable<{ readonly group: string; readonly changeSeq: number }>,
    nowMs: number,
    options: SettleClockOptions,
  ): SettleClock {
    const clock = new SettleClock(options);
    for (const { group, changeSeq } of settling) clock.#track(group, changeSeq, nowMs);
    return clock;
  }

  /** Groups waiting to settle. */
  get size(): number {
    return this.#pending.size;
  }

  /** Feeds one change reported by {@link GroupMachine.apply}, applied on this leader at `nowMs`. */
  observe(change: GroupChange, nowMs: number): void {
    if (change.state === 'SETTLING') this.#track(change.group, change.changeSeq, nowMs);
    else this.#pending.delete(change.group);
  }

  /** The settles to propose at `nowMs`; each is returned again only after `retryMs` without being applied. */
  due(nowMs: number): SettleCommand[] {
    const now = this.#now(nowMs);
    const out: SettleCommand[] = [];
    for (const [group, p] of this.#pending) {
      if (p.sinceMs + this.#settleMs > now) break; // later entries changed later
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
      const settleAt = p.sinceMs + this.#settleMs;
      if (next !== null && settleAt >= next) break; // every later entry is due later still
      const at = p.proposedAtMs === null ? settleAt : Math.max(settleAt, p.proposedAtMs + this.#retryMs);
      if (next === null || at < next) next = at;
    }
    return next;
  }

  #track(group: string, changeSeq: number, nowMs: number): void {
    const now = this.#now(nowMs);
    const known = this.#pending.get(group);
    if (known?.changeSeq === changeSeq) return; // same change seen again: keep its start time
    this.#pending.delete(group);
    this.#pending.set(group, { changeSeq, sinceMs: now, proposedAtMs: null });
  }

  /** A leader's clock must not run backwards; if the driver's does, we hold the last reading. */
  #now(nowMs: number): number {
    if (nowMs > this.#lastMs) this.#lastMs = nowMs;
    return this.#lastMs;
  }
}
