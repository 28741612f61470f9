import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { MessageHandler, NodeId, Transport } from '../transport/types.ts';

/** Fault settings for messages on one directed link (or the default for all links). */
export interface LinkFaults {
  /** Delivery delay is uniform in [minDelayMs, maxDelayMs]; a wide range reorders messages. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability in [0, 1] that a message is dropped. */
  lossRate: number;
  /** Probability in [0, 1] that a message is delivered twice. */
  duplicateRate: number;
}

export const DefaultLinkFaults: LinkFaults = { minDelayMs: 1, maxDelayMs: 3, lossRate: 0, duplicateRate: 0 };

/** Counters for what the network did, for assertions and reports. */
export interface SimNetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

/**
 * An in-process network on a virtual clock. Every fault it injects is drawn from the seeded
 * `Random`, and deliveries are clock timers, so a run replays exactly from its seed.
 *
 * Partitions are modelled as a set of blocked directed links, which expresses symmetric,
 * one-way and partial partitions alike. A crashed (`isolate`d) node neither sends nor receives,
 * and messages already in flight to it are lost.
 */
export class SimNetwork {
  readonly stats: SimNetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #handlers = new Map<NodeId, MessageHandler>();
  readonly #blocked = new Set<string>();
  readonly #down = new Set<NodeId>();
  readonly #linkFaults = new Map<string, LinkFaults>();
  /** Incremented when a node goes down, so in-flight messages to its old incarnation are lost. */
  readonly #epochs = new Map<NodeId, number>();
  #defaultFaults: LinkFaults;
  /** Optional tap for tests: sees every message at send time. */
  onSend: ((from: NodeId, to: NodeId, message: unknown) => void) | undefined;

  constructor(clock: Clock, random: Random, faults: Partial<LinkFaults> = {}) {
    this.#clock = clock;
    this.#random = random;
    this.#defaultFaults = { ...DefaultLinkFaults, ...faults };
  }

  /** A Transport endpoint for `id` on this network. */
  transport(id: NodeId): Transport {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const network = this;
    return {
      localId: id,
      send(to, message) {
        network.send(id, to, message);
      },
      setHandler(handler) {
        network.#handlers.set(id, handler);
      },
      setPeerAddress() {
        // Addresses mean nothing here: nodes are reached by id.
      },
      removePeer() {
        // Nothing to close.
      },
      close() {
        network.#handlers.delete(id);
        return Promise.resolve();
      },
    };
  }

  setDefaultFaults(faults: Partial<LinkFaults>): void {
    this.#defaultFaults = { ...this.#defaultFaults, ...faults };
  }

  setLinkFaults(from: NodeId, to: NodeId, faults: Partial<LinkFaults>): void {
    this.#linkFaults.set(linkKey(from, to), { ...this.#defaultFaults, ...faults });
  }

  /** Block messages from `from` to `to` (one direction only). */
  blockLink(from: NodeId, to: NodeId): void {
    this.#blocked.add(linkKey(from, to));
  }

  unblockLink(from: NodeId, to: NodeId): void {
    this.#blocked.delete(linkKey(from, to));
  }

  /** Symmetric partition: no message crosses between any node of `a` and any node of `b`. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.blockLink(x, y);
        this.blockLink(y, x);
      }
    }
  }

  /** Remove every partition and blocked link. */
  heal(): void {
    this.#blocked.clear();
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.#blocked.has(linkKey(from, to));
  }

  /** Take a node off the network (a crash): its in-flight messages are lost. */
  isolate(id: NodeId): void {
    this.#down.add(id);
    this.#epochs.set(id, (this.#epochs.get(id) ?? 0) + 1);
  }

  /** Put a node back on the network (a restart). */
  restore(id: NodeId): void {
    this.#down.delete(id);
  }

  isDown(id: NodeId): boolean {
    return this.#down.has(id);
  }

  send(from: NodeId, to: NodeId, message: unknown): void {
    this.stats.sent++;
    this.onSend?.(from, to, message);
    if (this.#down.has(from) || this.#down.has(to) || this.#blocked.has(linkKey(from, to))) {
      this.stats.dropped++;
      return;
    }
    const faults = this.#linkFaults.get(linkKey(from, to)) ?? this.#defaultFaults;
    if (faults.lossRate > 0 && this.#random.chance(faults.lossRate)) {
      this.stats.dropped++;
      return;
    }
    this.#schedule(from, to, message, faults);
    if (faults.duplicateRate > 0 && this.#random.chance(faults.duplicateRate)) {
      this.stats.duplicated++;
      this.#schedule(from, to, message, faults);
    }
  }

  #schedule(from: NodeId, to: NodeId, message: unknown, faults: LinkFaults): void {
    const delayMs =
      faults.minDelayMs + this.#random.next() * Math.max(0, faults.maxDelayMs - faults.minDelayMs);
    const epoch = this.#epochs.get(to) ?? 0;
    this.#clock.setTimeout(() => {
      // Re-check at delivery: a partition or crash that began in flight also loses the message.
      if (
        this.#down.has(to) ||
        (this.#epochs.get(to) ?? 0) !== epoch ||
        this.#blocked.has(linkKey(from, to))
      ) {
        this.stats.dropped++;
        return;
      }
      const handler = this.#handlers.get(to);
      if (handler === undefined) {
        this.stats.dropped++;
        return;
      }
      this.stats.delivered++;
      handler(from, message);
    }, delayMs);
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}
