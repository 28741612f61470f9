import type { Clock, TimerHandle } from '../core/clock.ts';
import { VirtualClock } from '../core/clock.ts';
import { Random } from '../core/random.ts';
import { SimNetwork, type LinkFaults } from '../testing/sim-network.ts';
import type { MessageHandler, Transport } from '../transport/types.ts';
import type { GossipConfig } from './config.ts';
import type { GossipEvent } from './events.ts';
import { MemberState, type Metadata } from './messages.ts';
import { GossipNode } from './node.ts';

/**
 * A whole gossip cluster in one process on a virtual clock and a seeded {@link SimNetwork}: the
 * real {@link GossipNode} driver over simulated time and links. Nodes can crash, stall (a
 * SIGSTOP: timers and messages wait, then run), be partitioned, join and leave.
 */
export class SimCluster {
  readonly clock = new VirtualClock();
  readonly network: SimNetwork;
  readonly random: Random;
  readonly nodes = new Map<string, GossipNode>();
  /** Every event every node emitted, with the observing node. */
  readonly events: { observer: string; event: GossipEvent }[] = [];
  readonly #config: Partial<GossipConfig>;
  readonly #stalls = new Map<string, Stall>();

  constructor(options: { seed: number; config?: Partial<GossipConfig>; faults?: Partial<LinkFaults> }) {
    this.random = new Random(options.seed);
    this.network = new SimNetwork(this.clock, this.random.fork(), options.faults ?? {});
    this.#config = options.config ?? {};
  }

  /** Start a node and have it join through `seeds` (it keeps retrying in the background). */
  add(id: string, seeds: readonly string[], metadata: Metadata = {}): GossipNode {
    const stall = new Stall(this.clock, this.network.transport(id));
    this.#stalls.set(id, stall);
    this.network.restore(id);
    const node = new GossipNode({
      transport: stall.transport,
      clock: stall.clock,
      random: this.random.fork(),
      config: this.#config,
      metadata,
    });
    node.subscribe((event) => this.events.push({ observer: id, event }));
    this.nodes.set(id, node);
    node.join(seeds, { timeoutMs: 3_600_000 }).catch(() => undefined);
    return node;
  }

  /** Start `ids` joining through the first of them, and run until every view is complete. */
  start(ids: readonly string[], maxMs = 60_000): void {
    for (const id of ids) this.add(id, [ids[0]!]);
    this.runUntil(() => this.converged(ids), maxMs, 'cluster formation');
  }

  /** Crash a node: it stops and its links go silent. */
  crash(id: string): void {
    this.network.isolate(id);
    this.node(id).close();
    this.nodes.delete(id);
  }

  /** Freeze a node for `ms` of virtual time: timers and arriving messages wait (as under SIGSTOP). */
  stall(id: string, ms: number): void {
    const stall = this.#stalls.get(id)!;
    stall.stop();
    this.clock.setTimeout(() => {
      stall.resume();
    }, ms);
  }

  node(id: string): GossipNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no running node ${id}`);
    return node;
  }

  advance(ms: number): void {
    this.clock.advance(ms);
  }

  /** Advance in `stepMs` steps until `done()` holds; throw after `maxMs`. Returns the time taken. */
  runUntil(done: () => boolean, maxMs: number, what: string, stepMs = 50): number {
    const startMs = this.clock.now();
    while (!done()) {
      if (this.clock.now() - startMs >= maxMs) throw new Error(`${what} did not happen within ${maxMs} ms`);
      this.clock.advance(stepMs);
    }
    return this.clock.now() - startMs;
  }

  /** Every node in `ids` sees exactly `ids` alive. */
  converged(ids: readonly string[]): boolean {
    const expected = [...ids].sort().join(',');
    return ids.every((id) => this.nodes.get(id)?.aliveMembers().sort().join(',') === expected);
  }

  /** Every running node other than `id` sees `id` in `state`. */
  allSee(id: string, state: MemberState): boolean {
    for (const [observer, node] of this.nodes) {
      if (observer !== id && node.member(id)?.state !== state) return false;
    }
    return true;
  }

  /** Events of `type` about `id`, seen by anyone. */
  eventsAbout(id: string, type: GossipEvent['type']): { observer: string; event: GossipEvent }[] {
    return this.events.filter((e) => e.event.member.id === id && e.event.type === type);
  }

  close(): void {
    for (const node of this.nodes.values()) node.close();
  }
}

/** Wraps a node's clock and transport so the node can be frozen and thawed. */
class Stall {
  readonly clock: Clock;
  readonly transport: Transport;
  #stopped = false;
  #timers: (() => void)[] = [];
  #inbox: [string, unknown][] = [];
  #handler: MessageHandler = () => undefined;

  constructor(inner: Clock, transport: Transport) {
    this.clock = {
      now: () => inner.now(),
      setTimeout: (callback, delayMs): TimerHandle =>
        inner.setTimeout(() => {
          if (this.#stopped) this.#timers.push(callback);
          else callback();
        }, delayMs),
      clearTimeout: (handle) => {
        inner.clearTimeout(handle);
      },
    };
    this.transport = {
      localId: transport.localId,
      send: (to, message) => {
        transport.send(to, message);
      },
      setHandler: (handler) => {
        this.#handler = handler;
        transport.setHandler((from, message) => {
          if (this.#stopped) this.#inbox.push([from, message]);
          else this.#handler(from, message);
        });
      },
      setPeerAddress: (id, address) => {
        transport.setPeerAddress(id, address);
      },
      removePeer: (id) => {
        transport.removePeer(id);
      },
      close: () => transport.close(),
    };
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Thaw like Node's event loop would: overdue timers first, then the messages that queued up. */
  resume(): void {
    this.#stopped = false;
    const timers = this.#timers;
    const inbox = this.#inbox;
    this.#timers = [];
    this.#inbox = [];
    for (const callback of timers) callback();
    for (const [from, message] of inbox) this.#handler(from, message);
  }
}
