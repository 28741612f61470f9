import type { NodeId } from './types.ts';

/** Who asked for a read: this node's driver (local) or a follower that forwarded it. */
export interface ReadRequester {
  readonly from: NodeId | null;
  readonly requestId: number;
}

interface ReadRound {
  readonly round: number;
  readonly index: number;
  readonly requesters: ReadRequester[];
  readonly acks: Set<NodeId>;
}

/**
 * ReadIndex bookkeeping on the leader (Raft thesis §6.4). Each round records the commit index at
 * the time of the request and waits for a quorum of heartbeat acknowledgements that carry the
 * round number or a later one; a quorum for round r proves that we were still leader after every
 * read in rounds ≤ r was requested, so all of them complete together. Rounds are bounded by the
 * caller (the driver batches reads into rounds).
 */
export class ReadIndexTracker {
  #nextRound = 1;
  readonly #rounds: ReadRound[] = [];

  get pending(): number {
    return this.#rounds.length;
  }

  /** Start a round; returns its number, which heartbeats must carry. */
  start(index: number, requesters: ReadRequester[], self: NodeId): number {
    const round = this.#nextRound++;
    this.#rounds.push({ round, index, requesters, acks: new Set([self]) });
    return round;
  }

  /**
   * Record an ack for `round` from `from`; returns the rounds now confirmed by `isQuorum`, oldest
   * first, removing them.
   */
  ack(from: NodeId, round: number, isQuorum: (acks: ReadonlySet<NodeId>) => boolean): ReadRound[] {
    let confirmedUpTo = -1;
    for (let i = 0; i < this.#rounds.length; i++) {
      const r = this.#rounds[i]!;
      if (r.round > round) break;
      r.acks.add(from);
      if (isQuorum(r.acks)) confirmedUpTo = i;
    }
    return confirmedUpTo < 0 ? [] : this.#rounds.splice(0, confirmedUpTo + 1);
  }

  /** Drop every round (leadership lost); returns them so requesters can be told. */
  clear(): ReadRound[] {
    return this.#rounds.splice(0, this.#rounds.length);
  }
}
