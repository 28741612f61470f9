import type { Clock, TimerHandle } from '../core/clock.ts';
import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import type { HeartbeatRequest, NodeId } from './types.ts';

/**
 * How long a follower that asked the leader for something (a forwarded proposal, a read index)
 * gets its commit notices at once: longer than any such request waits.
 */
export const promptNoticeWindowMs = 2_000;

export interface CommitNoticesOptions {
  readonly clock: Clock;
  /** Run `fn` on the next turn of the event loop. */
  readonly defer: (fn: () => void) => void;
  readonly send: (notice: HeartbeatRequest) => void;
  /** How long a notice may wait for an append to carry its commit index instead; 0: never waits. */
  readonly delayMs: number;
}

/**
 * When the leader's commit-only heartbeats go out. A commit notice only tells a follower to apply
 * what it already holds; every append and heartbeat carries the commit index too. So a notice
 * waits up to `delayMs` and is dropped when an append to that follower carries its commit first:
 * under a steady stream of writes a follower is woken once per write instead of twice, and the
 * leader makes one socket write per follower less (on a busy machine each costs a context switch).
 *
 * A follower waiting on a commit is not kept waiting: one that forwarded a proposal or asked for a
 * read index in the last {@link promptNoticeWindowMs} gets its notices on the next turn of the
 * event loop, as every follower does with `delayMs` 0. Those turns still come after the replies to
 * the clients whose commands just committed. Watches and serializable reads on other followers
 * see a commit up to `delayMs` later.
 */
export class CommitNotices {
  readonly #options: CommitNoticesOptions;
  /** Notices for the next turn of the event loop, by follower (a newer one replaces an older one). */
  readonly #nextTurn = new Map<NodeId, HeartbeatRequest>();
  /** Notices waiting up to `delayMs` for an append to carry them, by follower. */
  readonly #waiting = new Map<NodeId, HeartbeatRequest>();
  /** Followers that asked for something, and until when (clock ms) their notices go out at once. */
  readonly #promptUntilMs = new Map<NodeId, number>();
  #nextTurnScheduled = false;
  #timer: TimerHandle | null = null;
  #closed = false;

  constructor(options: CommitNoticesOptions) {
    if (!Number.isFinite(options.delayMs) || options.delayMs < 0) {
      throw new SkeinError(
        CoreErrorCode.InvalidConfig,
        `commitNoticeDelayMs must be a number of milliseconds ≥ 0, got ${String(options.delayMs)}`,
      );
    }
    this.#options = options;
  }

  /** Schedule `notice` (a commit-only heartbeat). */
  hold(notice: HeartbeatRequest): void {
    if (this.#closed) return;
    const promptUntil = this.#promptUntilMs.get(notice.to);
    if (
      this.#options.delayMs <= 0 ||
      (promptUntil !== undefined && promptUntil >= this.#options.clock.now())
    ) {
      this.#waiting.delete(notice.to);
      this.#sendNextTurn(notice);
      return;
    }
    this.#waiting.set(notice.to, notice);
    this.#timer ??= this.#options.clock.setTimeout(this.#sendWaiting, this.#options.delayMs);
  }

  /** A message carrying commit index `commit` is going to `to`: drop the notices it makes redundant. */
  carried(to: NodeId, commit: number): void {
    for (const held of [this.#waiting, this.#nextTurn]) {
      const notice = held.get(to);
      if (notice !== undefined && notice.commit <= commit) held.delete(to);
    }
  }

  /** `from` forwarded a proposal or asked for a read index: it waits on commits, tell it at once. */
  prompt(from: NodeId): void {
    this.#promptUntilMs.set(from, this.#options.clock.now() + promptNoticeWindowMs);
    const waiting = this.#waiting.get(from);
    if (waiting === undefined) return;
    this.#waiting.delete(from);
    this.#sendNextTurn(waiting);
  }

  /** Send nothing more. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#waiting.clear();
    this.#nextTurn.clear();
  }

  #sendNextTurn(notice: HeartbeatRequest): void {
    this.#nextTurn.set(notice.to, notice);
    if (this.#nextTurnScheduled) return;
    this.#nextTurnScheduled = true;
    this.#options.defer(() => {
      this.#nextTurnScheduled = false;
      this.#flush(this.#nextTurn);
    });
  }

  readonly #sendWaiting = (): void => {
    this.#timer = null;
    this.#flush(this.#waiting);
  };

  #flush(notices: Map<NodeId, HeartbeatRequest>): void {
    const due = [...notices.values()];
    notices.clear();
    if (this.#closed) return;
    for (const notice of due) this.#options.send(notice);
  }
}
