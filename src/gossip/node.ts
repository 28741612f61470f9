import type { Clock, TimerHandle } from '../core/clock.ts';
import { SkeinError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import { Random } from '../core/random.ts';
import type { Transport } from '../transport/types.ts';
import type { GossipConfig } from './config.ts';
import { GossipErrorCode } from './errors.ts';
import { GossipEventType, type GossipEvent } from './events.ts';
import type { MemberInfo } from './members.ts';
import { MemberState, type Metadata } from './messages.ts';
import { SwimCore } from './swim.ts';
import type { Coordinate, VivaldiConfig } from './vivaldi.ts';

export interface GossipNodeOptions {
  /** Carries the protocol; its `localId` is this member's id (its advertised "host:port"). */
  transport: Transport;
  clock: Clock;
  /** Defaults to `Random.fromEntropy()`; pass a seeded one in simulations. */
  random?: Random;
  metadata?: Metadata;
  config?: Partial<GossipConfig>;
  vivaldi?: Partial<VivaldiConfig>;
  /**
   * Where the transport should dial a member. Default: the id itself, because member ids *are*
   * advertised addresses — which is what lets a node join knowing only seed addresses.
   */
  addressOf?: (id: string) => string;
  logger?: Logger;
}

export type GossipListener = (event: GossipEvent) => void;

/**
 * A gossip member: the {@link SwimCore} state machine bound to a clock, a random source and a
 * transport. It owns one timer (armed at the core's next deadline) and the transport's handler;
 * the transport itself stays the caller's to close.
 */
export class GossipNode {
  readonly #core: SwimCore;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #addressOf: (id: string) => string;
  readonly #listeners = new Set<GossipListener>();
  /** Peers whose address the transport has been told (bounded by the member table). */
  readonly #addressed = new Set<string>();
  #timer: TimerHandle | undefined;
  #timerDueMs = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(options: GossipNodeOptions) {
    this.#transport = options.transport;
    this.#clock = options.clock;
    this.#logger = options.logger ?? silentLogger;
    this.#addressOf = options.addressOf ?? ((id) => id);
    this.#core = new SwimCore({
      id: options.transport.localId,
      random: options.random ?? Random.fromEntropy(),
      nowMs: options.clock.now(),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
      ...(options.config === undefined ? {} : { config: options.config }),
      ...(options.vivaldi === undefined ? {} : { vivaldi: options.vivaldi }),
    });
    this.#transport.setHandler((from, message) => {
      if (this.#closed) return;
      this.#core.receive(from, message, this.#clock.now());
      this.#flush();
    });
    this.#arm();
  }

  get id(): string {
    return this.#core.id;
  }

  get config(): Readonly<GossipConfig> {
    return this.#core.config;
  }

  /** Lifeguard local-health score: 0 is healthy. */
  get localHealth(): number {
    return this.#core.localHealth;
  }

  get incarnation(): number {
    return this.#core.incarnation;
  }

  /** Subscribe to membership events; returns the unsubscribe function. */
  subscribe(listener: GossipListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Join the cluster through any of `seeds` (member ids, i.e. "host:port"). Resolves once one seed
   * has answered with its full state; a node that is its own only seed resolves at once (it starts
   * a cluster). Retries every `retryMs`; rejects with SKEIN_GOSSIP_JOIN_FAILED after `timeoutMs`.
   */
  join(seeds: readonly string[], options: { timeoutMs?: number; retryMs?: number } = {}): Promise<void> {
    this.#assertOpen();
    const others = seeds.filter((seed) => seed !== this.id);
    if (others.length === 0) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? 10_000;
    const retryMs = options.retryMs ?? 1_000;
    const before = this.#core.syncRepliesReceived;
    const startMs = this.#clock.now();
    return new Promise((resolve, reject) => {
      let lastSendMs = Number.NEGATIVE_INFINITY;
      // Poll quickly for the answer, but only re-send to the seeds every `retryMs`.
      const poll = (): void => {
        if (this.#closed) {
          reject(closedError());
          return;
        }
        if (this.#core.syncRepliesReceived > before) {
          resolve();
          return;
        }
        const nowMs = this.#clock.now();
        if (nowMs - startMs >= timeoutMs) {
          reject(
            new SkeinError(
              GossipErrorCode.JoinFailed,
              `could not reach any seed of ${others.join(', ')} within ${timeoutMs} ms; check the addresses, the cluster secret and that a seed is running`,
            ),
          );
          return;
        }
        if (nowMs - lastSendMs >= retryMs) {
          lastSendMs = nowMs;
          this.#core.join(others, nowMs);
          this.#flush();
        }
        this.#clock.setTimeout(poll, Math.min(retryMs, 50));
      };
      poll();
    });
  }

  /**
   * Leave gracefully: announce it, keep disseminating until the announcement has been sent as
   * often as any update is (or `timeoutMs` passes), then stop. The node cannot be reused.
   */
  leave(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#assertOpen();
    const timeoutMs = options.timeoutMs ?? 3_000;
    const startMs = this.#clock.now();
    this.#core.leave(startMs);
    this.#flush();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.#core.leaveDisseminated || this.#clock.now() - startMs >= timeoutMs || this.#closed) {
          this.close();
          resolve();
        } else {
          this.#clock.setTimeout(check, this.#core.config.gossipIntervalMs / 2);
        }
      };
      check();
    });
  }

  /** Replace this member's metadata (role, capacity, cpu, memory, ...) and disseminate it. */
  updateMetadata(metadata: Metadata): void {
    this.#assertOpen();
    this.#core.updateMetadata(metadata, this.#clock.now());
    this.#flush();
  }

  /** Stop all protocol activity at once, without announcing anything (a crash, as others see it). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#transport.setHandler(() => undefined);
  }

  member(id: string): MemberInfo | undefined {
    return this.#core.member(id);
  }

  /** Every known member (this one included), failed and departed ones while remembered. */
  members(): MemberInfo[] {
    return this.#core.members();
  }

  /** Ids of the members this node currently believes alive (itself included). */
  aliveMembers(): string[] {
    return this.#core
      .members()
      .filter((m) => m.state === MemberState.Alive)
      .map((m) => m.id);
  }

  coordinate(id?: string): Coordinate | undefined {
    return this.#core.coordinate(id);
  }

  /** Estimated round-trip time between two members from their Vivaldi coordinates. */
  estimateRttMs(a: string, b: string): number | undefined {
    return this.#core.estimateRttMs(a, b);
  }

  /** Up to `k` alive members nearest to `id` by estimated RTT, nearest first. */
  nearest(id: string, k = 1): { id: string; rttMs: number }[] {
    return this.#core.nearest(id, k);
  }

  #flush(): void {
    const { messages, events } = this.#core.takeOutput();
    for (const { to, message } of messages) {
      if (!this.#addressed.has(to)) {
        this.#addressed.add(to);
        this.#transport.setPeerAddress(to, this.#addressOf(to));
      }
      this.#transport.send(to, message);
    }
    for (const event of events) {
      if (event.type === GossipEventType.Dead || event.type === GossipEventType.Leave) {
        // Free the connection; a later reconnect attempt sets the address again.
        this.#addressed.delete(event.member.id);
        this.#transport.removePeer(event.member.id);
      }
      for (const listener of this.#listeners) {
        try {
          listener(event);
        } catch (error) {
          this.#logger.error({ err: error, event: event.type }, 'gossip event listener threw');
        }
      }
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#closed) return;
    const dueMs = this.#core.nextDeadlineMs();
    if (this.#timer !== undefined && dueMs === this.#timerDueMs) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerDueMs = dueMs;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerDueMs = Number.POSITIVE_INFINITY;
      if (this.#closed) return;
      this.#core.tick(this.#clock.now());
      this.#flush();
    }, dueMs - this.#clock.now());
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

function closedError(): SkeinError {
  return new SkeinError(
    GossipErrorCode.Closed,
    'this gossip node has left or been closed; create a new GossipNode to rejoin',
  );
}
