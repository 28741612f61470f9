import { VirtualClock } from '../core/clock.ts';
import { Random } from '../core/random.ts';
import { decode, encode } from '../core/codec.ts';
import { RaftNode } from '../raft/node.ts';
import type {
  AppliedCommand,
  Processor,
  RaftNodeOptions,
  SnapshotStateMachine,
} from '../raft/node-options.ts';
import type { RaftCore } from '../raft/raft.ts';
import type { NodeId } from '../raft/types.ts';
import { MemoryStorage } from '../storage/memory-storage.ts';
import type { RaftStorage } from '../storage/types.ts';
import { RaftInvariants } from './raft-invariants.ts';
import { SimNetwork, type LinkFaults } from './sim-network.ts';

/** Options for a {@link RaftSimulation}. */
export interface RaftSimulationOptions {
  readonly seed: number;
  /** Network faults applied to every link (default: 1–3 ms delay, no loss). */
  readonly faults?: Partial<LinkFaults>;
  /**
   * Processors for each node, given the node id. Called again at every restart: a restarted node
   * rebuilds its state machine by re-applying the log, so return fresh state here.
   */
  readonly processors?: (id: NodeId) => Readonly<Record<string, Processor>>;
  /**
   * Alternatively, a whole state machine per node: processors plus snapshot/restore (which turns
   * on snapshots and log compaction). Default: {@link kvMachine}.
   */
  readonly machine?: (id: NodeId) => SimMachine;
  /** Extra RaftNode options (timing, limits). Default tick 10 ms, election 10 ticks. */
  readonly nodeOptions?: Partial<Omit<RaftNodeOptions, 'id' | 'address' | 'transport' | 'storage' | 'clock'>>;
  /** Check invariants after every event (default true). */
  readonly checkInvariants?: boolean;
  /**
   * Storage for each start of a node (`incarnation` 0 is the first): it must sit on the same
   * durable medium every time (e.g. a new view of the node's SimDisk). Default: one
   * MemoryStorage per node, kept across restarts.
   */
  readonly storage?: (id: NodeId, incarnation: number) => RaftStorage;
  /** Called when a node crashes (e.g. to crash its simulated disk). */
  readonly onCrash?: (id: NodeId) => void;
}

/** A state machine for a simulated node: processors, optional snapshots, and its state to inspect. */
export interface SimMachine {
  readonly processors: Readonly<Record<string, Processor>>;
  readonly stateMachine?: SnapshotStateMachine;
  readonly state?: unknown;
}

/**
 * The default simulated state machine: a key-value map (set/get) that also remembers every value
 * it applied, with snapshot and restore.
 */
export function kvMachine(): SimMachine & { state: { data: Map<string, unknown>; history: unknown[] } } {
  const state = { data: new Map<string, unknown>(), history: [] as unknown[] };
  return {
    state,
    processors: {
      set: (p) => {
        const { key, value } = p as { key: string; value: unknown };
        state.data.set(key, value);
        state.history.push(value);
        return value;
      },
      get: (p) => state.data.get((p as { key: string }).key),
      /** Compare-and-set: `value` replaces `expected` (null: absent); returns whether it did. */
      cas: (p) => {
        const { key, expected, value } = p as { key: string; expected: unknown; value: unknown };
        const current = state.data.get(key) ?? null;
        if (current !== expected) return false;
        state.data.set(key, value);
        state.history.push(value);
        return true;
      },
    },
    stateMachine: {
      snapshot: () => encode({ data: [...state.data], history: state.history }),
      async restore(chunks) {
        const parts: Uint8Array[] = [];
        for await (const c of chunks) parts.push(c);
        const decoded = decode(Buffer.concat(parts)) as { data: [string, unknown][]; history: unknown[] };
        state.data = new Map(decoded.data);
        state.history = decoded.history;
      },
    },
  };
}

interface SimNode {
  readonly id: NodeId;
  storage: RaftStorage;
  incarnation: number;
  /** A start whose storage is still loading. */
  loading: boolean;
  /** Bumped by every crash, so a load that finishes after the crash is discarded. */
  startToken: number;
  node: RaftNode | null;
  machine: SimMachine | null;
  /** The initial cluster it was started with: a restart passes it again, as a process would. */
  readonly peers: Readonly<Record<NodeId, string>> | undefined;
  /** Commands applied by the current incarnation, in order (including ones whose processor threw). */
  applied: AppliedCommand[];
}

/** The key-value processors of {@link kvMachine} alone (set/get/cas), without snapshots. */
export function defaultProcessors(): Readonly<Record<string, Processor>> {
  return kvMachine().processors;
}

/**
 * Many RaftNodes in one process on a virtual clock and a seeded simulated network — the same
 * driver code as production, with time, network and faults under the test's control. Every run
 * is a pure function of its seed. Invariants are checked after every event.
 *
 * ```ts
 * const sim = new RaftSimulation({ seed: 7 });
 * sim.bootstrap(['a', 'b', 'c']);
 * await sim.runUntil(() => sim.leader() !== undefined, 5_000);
 * await sim.leader()!.enqueue('set', { key: 'x', value: 1 });
 * ```
 */
export class RaftSimulation {
  readonly clock = new VirtualClock();
  readonly random: Random;
  readonly network: SimNetwork;
  readonly invariants = new RaftInvariants();
  readonly #options: RaftSimulationOptions;
  readonly #nodes = new Map<NodeId, SimNode>();
  /** Set when a check fails, so the run stops at the first violation. */
  #failure: unknown = null;
  #events = 0;

  constructor(options: RaftSimulationOptions) {
    this.#options = options;
    this.random = new Random(options.seed);
    this.network = new SimNetwork(this.clock, this.random.fork(), options.faults ?? {});
  }

  /** Create `ids` as the initial voters of a new cluster. */
  bootstrap(ids: readonly NodeId[]): void {
    const peers = Object.fromEntries(ids.map((id) => [id, addressOf(id)]));
    for (const id of ids) this.startNode(id, peers);
  }

  /**
   * Start a node (optionally bootstrapping with `peers`); a node without peers waits to be
   * attached. Needs storage that loads synchronously (the default); see {@link startNode}.
   */
  addNode(id: NodeId, peers?: Readonly<Record<NodeId, string>>): RaftNode {
    const node = this.#add(id, peers);
    if (node === undefined) throw new Error(`addNode(${id}): storage loads asynchronously; use startNode`);
    return node;
  }

  /** Start a node with any storage; it appears in `node(id)` once its storage has loaded. */
  startNode(id: NodeId, peers?: Readonly<Record<NodeId, string>>): void {
    this.#add(id, peers);
  }

  #add(id: NodeId, peers: Readonly<Record<NodeId, string>> | undefined): RaftNode | undefined {
    if (this.#nodes.has(id)) throw new Error(`node ${id} already exists`);
    const storage = this.#options.storage?.(id, 0) ?? new MemoryStorage();
    const sim: SimNode = {
      id,
      storage,
      incarnation: 0,
      loading: false,
      startToken: 0,
      node: null,
      machine: null,
      applied: [],
      peers,
    };
    this.#nodes.set(id, sim);
    return this.#start(sim);
  }

  #start(sim: SimNode): RaftNode | undefined {
    const peers = sim.peers;
    const custom = this.#options.processors?.(sim.id);
    const machine: SimMachine =
      custom !== undefined ? { processors: custom } : (this.#options.machine?.(sim.id) ?? kvMachine());
    sim.machine = machine;
    const options = {
      tickIntervalMs: 10,
      requestTimeoutMs: 2_000,
      ...this.#options.nodeOptions,
      id: sim.id,
      address: addressOf(sim.id),
      ...(peers === undefined ? {} : { peers }),
      processors: machine.processors,
      ...(machine.stateMachine === undefined ? {} : { stateMachine: machine.stateMachine }),
      transport: this.network.transport(sim.id),
      storage: sim.storage,
      clock: this.clock,
      random: this.random.fork(),
      defer: (fn: () => void) => this.clock.setTimeout(fn, 0),
    };
    const token = sim.startToken;
    const loaded = sim.storage.load();
    this.network.restore(sim.id);
    if (!(loaded instanceof Promise)) return this.#attach(sim, RaftNode.createRecovered(options, loaded));
    // Storage that loads asynchronously (files on a SimDisk): the node appears once it has loaded.
    sim.loading = true;
    loaded.then(
      (recovered) => {
        if (sim.startToken !== token) return; // crashed while loading
        sim.loading = false;
        this.#attach(sim, RaftNode.createRecovered(options, recovered));
      },
      (error: unknown) => {
        if (sim.startToken !== token) return; // the crash made the load fail; expected
        this.#failure ??= error;
      },
    );
    return undefined;
  }

  #attach(sim: SimNode, node: RaftNode): RaftNode {
    if (sim.incarnation > 0) this.invariants.restarted(sim.id);
    sim.node = node;
    sim.applied = [];
    this.invariants.resetApplied(sim.id);
    const onApplied = (command: AppliedCommand): void => {
      sim.applied.push(command);
      this.#guard(() => {
        this.invariants.onApplied(sim.id, node.core, command.index);
      });
    };
    node.on('applied', onApplied);
    node.on('apply-error', onApplied);
    // A node whose storage failed (a simulated disk crash) stops itself: that is a crash.
    node.on('error', (error) => {
      if (process.env['SKEIN_DEBUG'] !== undefined)
        console.log(`${sim.id} stopped at ${this.clock.now()}:`, String(error));
      this.clock.setTimeout(() => {
        if (sim.node === node) this.crash(sim.id);
      }, 0);
    });
    return node;
  }

  /** Crash a node: it stops at once, loses in-flight messages, keeps only what storage holds. */
  crash(id: NodeId): void {
    const sim = this.#get(id);
    if (sim.node === null && !sim.loading) return;
    this.network.isolate(id);
    sim.loading = false; // a start still loading its storage dies with the process
    sim.startToken++;
    const node = sim.node;
    sim.node = null;
    if (node !== null) {
      node.removeAllListeners();
      node.stop().catch(() => undefined);
    }
    this.#options.onCrash?.(id);
  }

  /**
   * Restart a crashed node from its storage. Returns the node at once when storage loads
   * synchronously; otherwise it appears (see `node(id)`) once its storage has loaded.
   */
  restart(id: NodeId): RaftNode | undefined {
    const sim = this.#get(id);
    if (sim.node !== null || sim.loading) throw new Error(`node ${id} is running`);
    sim.incarnation++;
    if (this.#options.storage !== undefined) sim.storage = this.#options.storage(id, sim.incarnation);
    return this.#start(sim);
  }

  /** True when `id` is neither running nor starting (crashed, or its storage failed). */
  isDown(id: NodeId): boolean {
    const sim = this.#get(id);
    return sim.node === null && !sim.loading;
  }

  /** Reset a detached node (its term and commit index restart, so the invariants forget it). */
  async reset(id: NodeId): Promise<void> {
    const sim = this.#get(id);
    const node = sim.node;
    if (node === null) throw new Error(`node ${id} is not running`);
    const done = node.reset();
    this.invariants.forgetNode(id);
    sim.applied = []; // the node's state machine starts over, as a user's must after reset
    await this.settle(done, 5_000);
  }

  /** The running node `id`, if up. */
  node(id: NodeId): RaftNode | undefined {
    return this.#nodes.get(id)?.node ?? undefined;
  }

  /** The state machine of the current incarnation of `id` (its `state` for inspection). */
  machine(id: NodeId): SimMachine {
    const machine = this.#get(id).machine;
    if (machine === null) throw new Error(`node ${id} has not started`);
    return machine;
  }

  /** Commands the current incarnation of `id` applied, in order. */
  appliedBy(id: NodeId): readonly AppliedCommand[] {
    return this.#get(id).applied;
  }

  get ids(): NodeId[] {
    return [...this.#nodes.keys()];
  }

  liveNodes(): RaftNode[] {
    const out: RaftNode[] = [];
    for (const sim of this.#nodes.values()) if (sim.node !== null) out.push(sim.node);
    return out;
  }

  /** The live leader with the highest term (of `clusterId`, when given). */
  leader(clusterId?: string): RaftNode | undefined {
    let best: RaftNode | undefined;
    for (const n of this.liveNodes()) {
      const s = n.core;
      if (s.role !== 'leader' || (clusterId !== undefined && s.clusterId !== clusterId)) continue;
      if (best === undefined || s.term > best.core.term) best = n;
    }
    return best;
  }

  cores(): Map<NodeId, RaftCore> {
    const out = new Map<NodeId, RaftCore>();
    for (const sim of this.#nodes.values()) if (sim.node !== null) out.set(sim.id, sim.node.core);
    return out;
  }

  /**
   * Run the clock forward by `ms`, one event at a time, checking invariants after each.
   * Promise continuations (API results) run between events.
   */
  async runFor(ms: number): Promise<void> {
    const target = this.clock.now() + ms;
    for (;;) {
      this.#throwIfFailed();
      const due = this.clock.nextDueMs();
      if ((due === undefined || due > target) && !(await this.#flushUntilDue(target))) break;
      this.clock.step();
      this.#afterEvent();
      await flushMicrotasks();
    }
    await flushMicrotasks();
    this.clock.advance(Math.max(0, target - this.clock.now()));
    this.#throwIfFailed();
  }

  /** Run until `predicate` holds, for at most `maxMs` of virtual time; returns whether it held. */
  async runUntil(predicate: () => boolean, maxMs: number): Promise<boolean> {
    const deadline = this.clock.now() + maxMs;
    while (!predicate()) {
      if (this.clock.now() >= deadline) return false;
      const due = this.clock.nextDueMs();
      if ((due === undefined || due > deadline) && !(await this.#flushUntilDue(deadline))) {
        this.clock.advance(deadline - this.clock.now());
        return predicate();
      }
      this.clock.step();
      this.#afterEvent();
      await flushMicrotasks();
      this.#throwIfFailed();
    }
    return true;
  }

  /** Await `promise` while running the simulation; fails after `maxMs` of virtual time. */
  async settle<T>(promise: Promise<T>, maxMs = 10_000): Promise<T> {
    let done = false;
    let value: T | undefined;
    let error: unknown = null;
    promise.then(
      (v) => {
        done = true;
        value = v;
      },
      (e: unknown) => {
        done = true;
        error = e;
      },
    );
    await flushMicrotasks();
    if (!(await this.runUntil(() => done, maxMs)))
      throw new Error(`operation did not settle within ${maxMs} ms`);
    if (error !== null) throw asError(error);
    return value as T;
  }

  /** Run the log-matching check now (it is O(nodes² × log), so it is not run after every event). */
  checkLogMatching(): void {
    this.invariants.checkLogMatching(this.cores());
  }

  /**
   * No timer is due: let pending promise chains (storage loads on a microtask-driven disk, API
   * continuations) run until one of them schedules an event before `limit`, or they go quiet.
   */
  async #flushUntilDue(limit: number): Promise<boolean> {
    for (let round = 0; round < 200; round++) {
      await flushMicrotasks();
      const due = this.clock.nextDueMs();
      if (due !== undefined && due <= limit) return true;
    }
    return false;
  }

  #afterEvent(): void {
    this.#events++;
    if (this.#options.checkInvariants === false) return;
    this.#guard(() => {
      this.invariants.check(this.cores());
      if (this.#events % 500 === 0) this.checkLogMatching();
    });
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#failure ??= error;
    }
  }

  #throwIfFailed(): void {
    if (this.#failure === null) return;
    throw asError(this.#failure);
  }

  #get(id: NodeId): SimNode {
    const sim = this.#nodes.get(id);
    if (sim === undefined) throw new Error(`no node ${id}`);
    return sim;
  }
}

/** Simulated nodes need an address for the configuration; it is never dialled. */
export function addressOf(id: NodeId): string {
  return `sim://${id}`;
}

/**
 * Let pending promise continuations run. The simulator does this after every event, as Node's
 * event loop drains microtasks after every callback: a continuation (a storage write completing,
 * an API result) then runs at the virtual time it became due — if its chain is at most six awaits
 * deep — so latencies measured on the virtual clock are exact. (Flushing every 16 events instead
 * saved ~12 % of the simulator's run time, but let the clock run a tick ahead of continuations.)
 */
async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 6; i++) await Promise.resolve();
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(typeof e === 'string' ? e : JSON.stringify(e));
}
