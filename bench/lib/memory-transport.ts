import type { MessageHandler, NodeId, Transport } from '../../src/transport/types.ts';

/** How a {@link MemoryHub} hands queued messages over. */
export type Delivery = 'microtask' | 'immediate';

interface Queued {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: unknown;
}

/**
 * A zero-delay network for nodes in one process, driven by the real event loop. Messages are
 * queued and delivered in batches — on the next microtask or the next `setImmediate` turn — by
 * reference (no encoding), in send order. It measures what the Raft core and driver cost on their
 * own, without sockets or codecs. Not a simulator: no faults, no virtual time.
 */
export class MemoryHub {
  readonly #handlers = new Map<NodeId, MessageHandler>();
  readonly #delivery: Delivery;
  readonly #maxQueuedMsgs: number;
  #queue: Queued[] = [];
  #scheduled = false;
  /** Messages refused because the queue was full. */
  dropped = 0;
  delivered = 0;

  constructor(options: { delivery?: Delivery; maxQueuedMsgs?: number } = {}) {
    this.#delivery = options.delivery ?? 'immediate';
    this.#maxQueuedMsgs = options.maxQueuedMsgs ?? 1_000_000;
  }

  transport(id: NodeId): Transport {
    return {
      localId: id,
      send: (to, message) => {
        this.#send(id, to, message);
      },
      setHandler: (handler) => {
        this.#handlers.set(id, handler);
      },
      setPeerAddress: () => {
        // Every node in the hub is reachable; addresses do not matter.
      },
      removePeer: () => {
        // Nothing to close.
      },
      close: () => {
        this.#handlers.delete(id);
        return Promise.resolve();
      },
    };
  }

  #send(from: NodeId, to: NodeId, message: unknown): void {
    if (this.#queue.length >= this.#maxQueuedMsgs) {
      this.dropped++;
      return;
    }
    this.#queue.push({ from, to, message });
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#delivery === 'microtask') queueMicrotask(this.#flush);
    else setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    for (const { from, to, message } of batch) {
      const handler = this.#handlers.get(to);
      if (handler === undefined) continue;
      this.delivered++;
      handler(from, message);
    }
  };
}
