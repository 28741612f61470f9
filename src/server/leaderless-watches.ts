import type { Clock, TimerHandle } from '../core/clock.ts';
import { SkeinError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { NodeId } from '../raft/types.ts';
import type { WatchHub } from './watch-hub.ts';

/** The part of a RaftNode this guard needs: who leads, and word when that changes. */
export interface LeaderSource {
  readonly leaderId: NodeId | null;
  on(event: 'leader', listener: (leaderId: NodeId | null, term: number) => void): unknown;
  off(event: 'leader', listener: (leaderId: NodeId | null, term: number) => void): unknown;
}

export interface LeaderlessWatchesOptions {
  readonly node: LeaderSource;
  readonly watches: WatchHub;
  readonly clock: Clock;
  readonly logger: Logger;
  /** End watches once no leader has been known for this long (the server passes two election timeouts). */
  readonly noLeaderMs: number;
}

/**
 * Ends this member's watches, and refuses new ones with SKEIN_NO_LEADER, once it has known no
 * leader for `noLeaderMs`: etcd's `WithRequireLeader`, always on. A member cut off from the
 * majority learns of no new commits, so a watch it serves would go quiet without saying why, for
 * as long as the partition lasts; ended, the client resumes it from its last revision on a member
 * that has a leader (skein's client does, with nothing lost or repeated). Watches are accepted
 * again as soon as a leader is known.
 *
 * A follower notices it is cut off when its election timeout passes and it starts a (pre-)vote,
 * which clears its leader; a learner, which never campaigns, clears it after an election timeout
 * without word from its leader; a leader cut off steps down by check-quorum after an election
 * timeout.
 */
export class LeaderlessWatches {
  readonly #o: LeaderlessWatchesOptions;
  #timer: TimerHandle | null = null;

  constructor(options: LeaderlessWatchesOptions) {
    this.#o = options;
    options.node.on('leader', this.#onLeader);
    this.#onLeader(options.node.leaderId);
  }

  stop(): void {
    this.#o.node.off('leader', this.#onLeader);
    this.#clearTimer();
  }

  readonly #onLeader = (leaderId: NodeId | null): void => {
    if (leaderId !== null) {
      this.#clearTimer();
      if (this.#o.watches.suspended)
        this.#o.logger.info({ leader: leaderId }, 'leader known again: watches accepted');
      this.#o.watches.resume();
      return;
    }
    if (this.#timer !== null || this.#o.watches.suspended) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = null;
      const ended = this.#o.watches.size;
      this.#o.watches.suspend(
        new SkeinError(
          'SKEIN_NO_LEADER',
          `this member has known no leader for ${this.#o.noLeaderMs} ms, so it sees no new changes; ` +
            'resume the watch on another member (skein clients do)',
        ),
      );
      this.#o.logger.warn({ ended, noLeaderMs: this.#o.noLeaderMs }, 'no leader: watches ended and refused');
    }, this.#o.noLeaderMs);
  };

  #clearTimer(): void {
    if (this.#timer !== null) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
