import type { Update } from './messages.ts';

interface Entry {
  update: Update;
  transmits: number;
  /** Insertion order, so that among equally-sent updates the newest goes first. */
  order: number;
}

/**
 * Updates waiting to be piggybacked (memberlist's TransmitLimitedQueue). Each member has at most
 * one queued update — a newer fact about a member replaces the older one — and each update is
 * sent a bounded number of times, least-sent first, so fresh news spreads before stale news.
 */
export class BroadcastQueue {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  #order = 0;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Queue `update`, replacing any queued update about the same member. */
  push(update: Update): void {
    this.#entries.delete(update.id);
    if (this.#entries.size >= this.#maxEntries) this.#dropMostSent();
    this.#entries.set(update.id, { update, transmits: 0, order: this.#order++ });
  }

  /**
   * Up to `max` updates, fewest transmissions first, counting this transmission; updates that have
   * now been sent `transmitLimit` times leave the queue. `first` (if given) goes in front: it is
   * how a ping to a suspect carries the suspicion to the one member who can refute it.
   */
  take(max: number, transmitLimit: number, out: Update[] = []): Update[] {
    if (this.#entries.size === 0 || max <= 0) return out;
    const picked: Entry[] = [];
    for (const entry of this.#entries.values()) {
      if (picked.length < max) {
        picked.push(entry);
        if (picked.length === max) picked.sort(byPriority);
      } else if (byPriority(entry, picked[max - 1]!) < 0) {
        picked[max - 1] = entry;
        picked.sort(byPriority);
      }
    }
    for (const entry of picked) {
      out.push(entry.update);
      entry.transmits++;
      if (entry.transmits >= transmitLimit) this.#entries.delete(entry.update.id);
    }
    return out;
  }

  /** The queued update about `memberId`, if any. */
  get(memberId: string): Update | undefined {
    return this.#entries.get(memberId)?.update;
  }

  delete(memberId: string): void {
    this.#entries.delete(memberId);
  }

  #dropMostSent(): void {
    let worst: Entry | undefined;
    for (const entry of this.#entries.values()) {
      if (worst === undefined || byPriority(entry, worst) > 0) worst = entry;
    }
    if (worst !== undefined) this.#entries.delete(worst.update.id);
  }
}

function byPriority(a: Entry, b: Entry): number {
  return a.transmits !== b.transmits ? a.transmits - b.transmits : b.order - a.order;
}

/** memberlist's retransmit limit: mult × ceil(log10(n + 1)). */
export function retransmitLimit(retransmitMult: number, members: number): number {
  return retransmitMult * Math.max(1, Math.ceil(Math.log10(members + 1)));
}
