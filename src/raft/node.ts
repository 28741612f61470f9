import { EventEmitter } from 'node:events';
import { RealClock, type Clock, type TimerHandle } from '../core/clock.ts';
import { hasCode, SkeinError } from '../core/errors.ts';
import { inTimeSlices } from '../core/time-slices.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import { Random } from '../core/random.ts';
import { MemoryStorage } from '../storage/memory-storage.ts';
import type { RaftStorage, RecoveredState } from '../storage/types.ts';
import type { Transport } from '../transport/types.ts';
import { RaftErrorCode, raftError } from './errors.ts';
import { allVoters, isJoint, isMember } from './quorum.ts';
import { RaftCore, type RaftStatus, type Ready } from './raft.ts';
import {
  EntryKind,
  Role,
  type ClusterConfig,
  type ConfigChange,
  type Entry,
  type NodeId,
  type RaftMessage,
} from './types.ts';
import { CommitNotices } from './commit-notices.ts';
import { ConditionWaiters } from './condition-waiters.ts';
import { AdminRpc, type AdminOp } from './admin-rpc.ts';
import { decodeCommand, encodeCommand, RecentRequests } from './command.ts';
import { unwrapSnapshot, wrapSnapshot } from './snapshot-envelope.ts';
import { SnapshotReceiver, SnapshotSender, type SnapshotResponse } from './snapshot-transfer.ts';
import type { SnapshotMeta } from '../storage/types.ts';

import type {
  AppliedCommand,
  EnqueueOptions,
  Processor,
  RaftNodeEvents,
  RaftNodeOptions,
  RaftNodeStatus,
  SnapshotStateMachine,
} from './node-options.ts';

/** A command enqueued on this node, waiting for the next drive to propose it. */
interface Proposal {
  readonly kind: EntryKind;
  readonly data: Uint8Array;
  readonly requestId: string;
  /** Set by {@link EnqueueOptions.leaderTerm}. */
  readonly leaderTerm?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: TimerHandle;
}

/** A membership change this leader proposed, and what this node applied at its index so far. */
interface AwaitedChange {
  readonly index: number;
  readonly term: number;
  outcome: 'pending' | 'applied' | 'superseded';
}

/**
 * A Raft member: the pure {@link RaftCore} bound to a clock, a transport, storage and the user's
 * processors. Every input is processed in order on the event loop; each batch of work is persisted
 * (one storage write per batch), then sent, then applied.
 */
export class RaftNode extends EventEmitter<RaftNodeEvents> {
  readonly id: NodeId;
  readonly address: string;
  readonly #core: RaftCore;
  readonly #clock: Clock;
  readonly #transport: Transport;
  readonly #storage: RaftStorage;
  readonly #processors: Readonly<Record<string, Processor>>;
  readonly #logger: Logger;
  readonly #tickIntervalMs: number;
  readonly #requestTimeoutMs: number;
  readonly #maxPendingRequests: number;
  readonly #maxCommandBytes: number;
  readonly #recentRequests: RecentRequests;
  /** Timers of read rounds, so stop() can cancel them. */
  readonly #readTimers = new Set<TimerHandle>();
  readonly #stateMachine: SnapshotStateMachine | undefined;
  readonly #snapshotEveryEntries: number;
  readonly #snapshotEveryBytes: number;
  readonly #snapshotMinLogToStateRatio: number;
  /** Size of the newest snapshot (0 when none): see snapshotMinLogToStateRatio. */
  #lastSnapshotBytes = 0;
  readonly #keepEntriesAfterSnapshot: number;
  readonly #snapshotChunkBytes: number;
  readonly #sender: SnapshotSender;
  readonly #receiver: SnapshotReceiver;
  /** While the state machine is being replaced by a snapshot, nothing is applied. */
  #restoring = false;
  /** Storage refused the last batch for lack of space; it is being retried. */
  #storageFull = false;
  #snapshotting = false;
  #lastSnapshotIndex = 0;
  #bytesSinceSnapshot = 0;
  readonly #defer: (fn: () => void) => void;
  readonly #admin: AdminRpc;

  readonly #pending = new Map<string, Pending>();
  readonly #reads = new Map<number, { run: () => void; reject: (e: unknown) => void }>();
  /** Reads waiting for the node to apply up to their read index. */
  #readsAwaitingApply: { index: number; run: () => void; reject: (e: unknown) => void }[] = [];
  /** Local reads queued for the next ReadIndex round (batching). */
  #queuedReads: { run: () => void; reject: (e: unknown) => void }[] = [];
  #readRoundInFlight = false;
  #nextRequestSeq = 1;
  /** Commands enqueued since the last drive, proposed to the core as one batch. */
  #proposals: Proposal[] = [];
  #nextReadId = 1;
  readonly #incarnation: string;
  readonly #waiters: ConditionWaiters;
  /** At most one: the core refuses a membership change while another is in flight. */
  #awaitedChange: AwaitedChange | null = null;

  #tickTimer: TimerHandle | null = null;
  #driveScheduled = false;
  readonly #commitNotices: CommitNotices;
  #persisting = false;
  #stopped = false;
  #lastRole: RaftStatus['role'];
  #lastLeader: NodeId | null;
  #lastConfig: ClusterConfig;

  private constructor(options: RaftNodeOptions, core: RaftCore, storage: RaftStorage, random: Random) {
    super();
    this.id = options.id;
    this.address = options.address;
    this.#core = core;
    this.#clock = options.clock ?? new RealClock();
    this.#transport = options.transport;
    this.#storage = storage;
    this.#processors = options.processors;
    this.#logger = (options.logger ?? silentLogger).child({ node: options.id });
    this.#tickIntervalMs = options.tickIntervalMs ?? 100;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.#waiters = new ConditionWaiters(this.#clock, this.#requestTimeoutMs);
    this.#maxPendingRequests = options.maxPendingRequests ?? 100_000;
    this.#maxCommandBytes = options.maxCommandBytes ?? 1024 * 1024;
    this.#recentRequests = new RecentRequests(options.dedupeWindow ?? 100_000);
    this.#stateMachine = options.stateMachine;
    this.#snapshotEveryEntries = options.snapshotEveryEntries ?? 10_000;
    this.#snapshotEveryBytes = options.snapshotEveryBytes ?? 64 * 1024 * 1024;
    this.#snapshotMinLogToStateRatio = options.snapshotMinLogToStateRatio ?? 0.5;
    this.#keepEntriesAfterSnapshot = options.keepEntriesAfterSnapshot ?? 1000;
    this.#snapshotChunkBytes = options.snapshotChunkBytes ?? 1024 * 1024;
    this.#lastSnapshotIndex = core.log.snapshotIndex;
    const transfer = {
      localId: options.id,
      clock: this.#clock,
      logger: this.#logger,
      storage,
      envelope: () => ({ term: this.#core.term, clusterId: this.#core.clusterId }),
      send: (to: NodeId, message: unknown) => {
        this.#transport.send(to, message);
      },
      chunkBytes: this.#snapshotChunkBytes,
      maxChunksInFlight: options.maxSnapshotChunksInFlight ?? 8,
      timeoutMs: options.snapshotResponseTimeoutMs ?? this.#tickIntervalMs * (options.electionTicks ?? 10),
    };
    this.#sender = new SnapshotSender(transfer, (peer, ok) => {
      this.#core.reportSnapshot(peer, ok);
      this.#scheduleDrive();
    });
    this.#receiver = new SnapshotReceiver(transfer, {
      install: (meta, from) => this.#installSnapshot(meta, from),
      isAhead: (meta) => meta.index > this.#core.log.commitIndex,
      onFailure: (error) => {
        this.#stopIfStorageFailed(error);
      },
    });
    this.#defer = options.defer ?? setImmediate;
    this.#commitNotices = new CommitNotices({
      clock: this.#clock,
      defer: this.#defer,
      send: (notice) => {
        this.#transport.send(notice.to, notice); // stop() closes the notices first
      },
      delayMs: options.commitNoticeDelayMs ?? 5,
    });
    this.#incarnation = random.nextUint32().toString(36);
    this.#lastRole = core.role;
    this.#lastLeader = core.leaderId;
    this.#lastConfig = core.config;
    this.#admin = new AdminRpc({
      localId: options.id,
      clock: this.#clock,
      send: (to, message) => {
        this.#transport.send(to, message);
      },
      execute: (op) => this.#executeAdmin(op),
      timeoutMs: this.#requestTimeoutMs,
    });
  }

  /** Create a node, recover its state from storage, and start ticking. */
  static async create(options: RaftNodeOptions): Promise<RaftNode> {
    const storage = options.storage ?? new MemoryStorage();
    return RaftNode.#fromRecovered(options, storage, await storage.load());
  }

  /**
   * Create a node from storage that loads synchronously (memory, the simulator's disk). The
   * simulator uses this so that a restart happens at one instant of virtual time.
   */
  static createSync(options: RaftNodeOptions): RaftNode {
    const storage = options.storage ?? new MemoryStorage();
    const recovered = storage.load();
    if (recovered instanceof Promise)
      throw new TypeError('createSync needs storage whose load() is synchronous');
    return RaftNode.#fromRecovered(options, storage, recovered);
  }

  /**
   * Create a node from state already loaded from `options.storage` (for drivers and simulators
   * that load storage themselves). `create` is `createRecovered(options, await storage.load())`.
   */
  static createRecovered(
    options: RaftNodeOptions & { storage: RaftStorage },
    recovered: RecoveredState,
  ): RaftNode {
    return RaftNode.#fromRecovered(options, options.storage, recovered);
  }

  static #fromRecovered(options: RaftNodeOptions, storage: RaftStorage, recovered: RecoveredState): RaftNode {
    const random = options.random ?? Random.fromEntropy();
    const core = new RaftCore(
      { ...options, random },
      {
        hardState: recovered.hardState,
        entries: recovered.entries,
        ...(recovered.snapshot ? { snapshot: recovered.snapshot } : {}),
      },
    );
    if (core.log.lastIndex === 0 && core.term === 0 && options.peers !== undefined) {
      const ids = Object.keys(options.peers).sort();
      if (!ids.includes(options.id)) {
        throw new SkeinError(
          'SKEIN_INVALID_CONFIG',
          `peers must include this node (${options.id}); got ${ids.join(', ')}`,
        );
      }
      core.bootstrap(options.peers, options.clusterId ?? `initial:${ids.join(',')}`);
    }
    if (recovered.snapshot !== undefined && options.stateMachine === undefined) {
      throw new SkeinError(
        'SKEIN_INVALID_CONFIG',
        `storage holds a snapshot at index ${recovered.snapshot.index} but no stateMachine was given to restore it`,
      );
    }
    const node = new RaftNode(options, core, storage, random);
    if (recovered.snapshot !== undefined) node.#restoreOnStart();
    node.#start();
    return node;
  }

  #start(): void {
    for (const [id, address] of Object.entries(this.#core.config.voters))
      this.#transport.setPeerAddress(id, address);
    for (const [id, address] of Object.entries(this.#core.config.learners))
      this.#transport.setPeerAddress(id, address);
    this.#transport.setHandler((from, message) => {
      this.#onMessage(from, message);
    });
    this.#scheduleTick();
    this.#scheduleDrive();
  }

  // ---------------------------------------------------------------------------------------------
  // Public API
  // ---------------------------------------------------------------------------------------------

  /**
   * Replicate a command and resolve with its processor's result once it has been committed and
   * applied on this node. Callable on any member: followers forward to the leader (unless
   * `options.leaderTerm` says the command is only for the leader of one term).
   */
  enqueue(action: string, params: unknown, options: EnqueueOptions = {}): Promise<unknown> {
    if (this.#stopped) return Promise.reject(raftError(RaftErrorCode.Stopped, 'cannot enqueue'));
    if (!Object.hasOwn(this.#processors, action)) {
      return Promise.reject(raftError(RaftErrorCode.UnknownAction, `no processor for action "${action}"`));
    }
    if (this.#storageFull) {
      return Promise.reject(
        new SkeinError(
          'SKEIN_STORAGE_FULL',
          'this node cannot write: its disk is full; free space and it resumes',
        ),
      );
    }
    if (this.#pending.size >= this.#maxPendingRequests) {
      return Promise.reject(
        raftError(RaftErrorCode.Overloaded, `${this.#pending.size} commands already pending`),
      );
    }
    const requestId = `${this.id}:${this.#incarnation}:${this.#nextRequestSeq++}`;
    const data = encodeCommand({ requestId, action, params });
    if (data.byteLength > this.#maxCommandBytes) {
      return Promise.reject(
        raftError(
          RaftErrorCode.CommandTooLarge,
          `command ${action} is ${data.byteLength} bytes (limit ${this.#maxCommandBytes})`,
        ),
      );
    }
    // Proposed at the next drive, together with every other command enqueued this turn: one
    // append per follower per batch instead of per command (the biggest throughput lever).
    const { leaderTerm } = options;
    this.#proposals.push({
      kind: EntryKind.Normal,
      data,
      requestId,
      ...(leaderTerm === undefined ? {} : { leaderTerm }),
    });
    this.#scheduleDrive();
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#pending.delete(requestId);
        reject(
          raftError(
            RaftErrorCode.Timeout,
            `command ${action} not applied within ${this.#requestTimeoutMs} ms`,
          ),
        );
      }, this.#requestTimeoutMs);
      this.#pending.set(requestId, { resolve, reject, timer });
    });
  }

  /**
   * Run `fn` against the state machine after a linearizable read barrier (ReadIndex): it sees
   * every command committed before `read` was called. Works on followers too.
   */
  read<T>(fn: () => T): Promise<T> {
    if (this.#stopped) return Promise.reject(raftError(RaftErrorCode.Stopped, 'cannot read'));
    return new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        reject(raftError(RaftErrorCode.Timeout, `read not served within ${this.#requestTimeoutMs} ms`));
      }, this.#requestTimeoutMs);
      const run = (): void => {
        this.#clock.clearTimeout(timer);
        try {
          resolve(fn());
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
      const fail = (error: unknown): void => {
        this.#clock.clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      this.#queuedReads.push({ run, reject: fail });
      this.#startReadRound();
    });
  }

  /** Make this node the only member of a new cluster (UNSAFE when others may still hold a quorum). */
  solo(): Promise<void> {
    this.#core.solo(this.address);
    this.#scheduleDrive();
    return this.#waiters.waitUntil(() => this.#core.status().appliedIndex >= this.#core.log.commitIndex);
  }

  /**
   * Add nodes (id → address): first as learners, then, once they have caught up, as voters —
   * both steps by joint consensus. Runs on the leader; a follower forwards the call.
   */
  attachNodes(nodes: Readonly<Record<NodeId, string>>): Promise<void> {
    return this.#admin.run(this.#leaderForAdmin(), { op: 'attach', nodes });
  }

  /** Remove nodes by id in one joint-consensus change. Runs on the leader. */
  detachNodes(ids: readonly NodeId[]): Promise<void> {
    return this.#admin.run(this.#leaderForAdmin(), { op: 'detach', ids: [...ids] });
  }

  /** Add nodes as learners only (they replicate but do not vote). */
  addLearners(nodes: Readonly<Record<NodeId, string>>): Promise<void> {
    return this.#admin.run(this.#leaderForAdmin(), { op: 'add-learners', nodes });
  }

  /** Promote caught-up learners to voters. */
  promoteLearners(ids: readonly NodeId[]): Promise<void> {
    return this.#admin.run(this.#leaderForAdmin(), { op: 'promote', ids: [...ids] });
  }

  /** Remove this node from its cluster. A sole voter simply leaves. */
  async detach(): Promise<void> {
    const voters = allVoters(this.#core.config);
    if (voters.length === 1 && voters[0] === this.id) {
      const error = this.#core.leaveSolo();
      if (error !== null) throw error;
      this.#scheduleDrive();
      await this.#waiters.waitUntil(() => this.#core.status().appliedIndex >= this.#core.log.commitIndex);
      return;
    }
    await this.detachNodes([this.id]);
  }

  /** Wipe a detached node's log, term, vote and configuration so it can join another cluster. */
  async reset(): Promise<void> {
    const error = this.#core.reset();
    if (error !== null) throw error;
    this.#failAllPending(raftError(RaftErrorCode.Stopped, 'the node was reset'));
    this.#scheduleDrive();
    await this.#waiters.waitUntil(() => !this.#persisting && !this.#core.hasReady());
  }

  /** Hand leadership to `target`. Resolves once `target` leads. Runs on the leader. */
  transferLeadership(target: NodeId): Promise<void> {
    return this.#admin.run(this.#leaderForAdmin(), { op: 'transfer', target });
  }

  /** Start an election now (useful for operators and tests). */
  campaign(): void {
    this.#core.campaign();
    this.#scheduleDrive();
  }

  status(): RaftNodeStatus {
    return {
      ...this.#core.status(),
      snapshotIndex: this.#lastSnapshotIndex,
      snapshotTransfers: [...this.#sender.transfers, ...this.#receiver.transfers],
    };
  }

  /**
   * The term this node leads in, as its core sees it right now (before any 'role' event for a
   * change has been emitted), or null when it does not lead.
   */
  get leadingTerm(): number | null {
    return this.#core.role === Role.Leader ? this.#core.term : null;
  }

  /** The member this node takes for the leader (itself when it leads), or null while none is known. */
  get leaderId(): NodeId | null {
    return this.#core.leaderId;
  }

  /** The underlying core, for invariant checkers and diagnostics. Do not mutate it. */
  get core(): RaftCore {
    return this.#core;
  }

  /** True once stop() was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Stop ticking and processing; pending requests reject with SKEIN_STOPPED. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#tickTimer !== null) this.#clock.clearTimeout(this.#tickTimer);
    this.#commitNotices.close();
    this.#failAllPending(raftError(RaftErrorCode.Stopped, 'node stopped'));
    this.#admin.close();
    this.#sender.close();
    this.#receiver.close();
    await this.#transport.close();
    await this.#storage.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Admin operations (run on the leader)
  // ---------------------------------------------------------------------------------------------

  #leaderForAdmin(): NodeId | null {
    return this.#core.leaderId;
  }

  async #executeAdmin(op: AdminOp): Promise<void> {
    if (this.#core.role !== 'leader') throw raftError(RaftErrorCode.NotLeader, `cannot run ${op.op}`);
    const config = this.#core.config;
    switch (op.op) {
      case 'attach': {
        const ids = Object.keys(op.nodes);
        const existing = ids.filter((id) => isMember(config, id));
        if (existing.length > 0) {
          throw raftError(RaftErrorCode.AlreadyMember, `already member(s): ${existing.join(', ')}`);
        }
        await this.#changeConfig({ ...config.voters }, { ...config.learners, ...op.nodes });
        await this.#waiters.waitUntil(() =>
          ids.every((id) => {
            const pr = this.#core.progressOf(id);
            return pr !== undefined && pr.match >= this.#core.log.commitIndex;
          }),
        );
        const now = this.#core.config;
        await this.#changeConfig({ ...now.voters, ...op.nodes }, without(now.learners, ids));
        return;
      }
      case 'add-learners': {
        const existing = Object.keys(op.nodes).filter((id) => isMember(config, id));
        if (existing.length > 0) {
          throw raftError(RaftErrorCode.AlreadyMember, `already member(s): ${existing.join(', ')}`);
        }
        await this.#changeConfig({ ...config.voters }, { ...config.learners, ...op.nodes });
        return;
      }
      case 'promote': {
        const voters = { ...config.voters };
        for (const id of op.ids) {
          const address = config.learners[id];
          if (address === undefined)
            throw raftError(RaftErrorCode.InvalidConfigChange, `${id} is not a learner`);
          voters[id] = address;
        }
        await this.#changeConfig(voters, without(config.learners, op.ids));
        return;
      }
      case 'detach': {
        const missing = op.ids.filter((id) => !isMember(config, id));
        if (missing.length > 0)
          throw raftError(RaftErrorCode.InvalidConfigChange, `not member(s): ${missing.join(', ')}`);
        await this.#changeConfig(without(config.voters, op.ids), without(config.learners, op.ids));
        // A leader that removed itself hands over first; resolve once it has.
        await this.#waiters.waitUntil(() => !this.#core.leaving);
        return;
      }
      case 'transfer': {
        const error = this.#core.transferLeadership(op.target);
        if (error !== null) throw error;
        this.#scheduleDrive();
        await this.#waiters.waitUntil(() => this.#core.leaderId === op.target);
        return;
      }
    }
  }

  /** Propose a joint-consensus change and wait until it (and the automatic leave-joint) applied. */
  async #changeConfig(voters: Record<NodeId, string>, learners: Record<NodeId, string>): Promise<void> {
    for (const [id, address] of [...Object.entries(voters), ...Object.entries(learners)]) {
      this.#transport.setPeerAddress(id, address);
    }
    const change: ConfigChange = { type: 'enter-joint', voters, learners };
    const result = this.#core.propose([{ kind: EntryKind.Config, data: change }]);
    if (!result.ok) throw result.error;
    if (!('firstIndex' in result)) throw raftError(RaftErrorCode.NotLeader, 'membership change');
    const awaited: AwaitedChange = { index: result.firstIndex, term: result.term, outcome: 'pending' };
    this.#awaitedChange = awaited;
    this.#scheduleDrive();
    try {
      await this.#waiters.waitUntil(() => {
        switch (awaited.outcome) {
          case 'applied':
            return !isJoint(this.#core.config);
          case 'superseded':
            // Another entry committed at its index, so this change never will.
            throw raftError(
              RaftErrorCode.NotLeader,
              'membership change not applied: leadership changed before it committed',
            );
          case 'pending':
            // Applied past its index without applying it here: a snapshot from a new leader
            // covered it, and whether it was in that snapshot cannot be told.
            if (this.#core.log.appliedIndex >= awaited.index)
              throw raftError(RaftErrorCode.Timeout, 'membership change interrupted by a change of leader');
            return false;
        }
      });
    } finally {
      if (this.#awaitedChange === awaited) this.#awaitedChange = null;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Event loop
  // ---------------------------------------------------------------------------------------------

  #scheduleTick(): void {
    this.#tickTimer = this.#clock.setTimeout(() => {
      if (this.#stopped) return;
      this.#core.tick();
      this.#scheduleTick();
      this.#drive();
      // A tick can change who leads without leaving anything to persist or send (a learner that
      // stops claiming a leader, a leader that steps down by check-quorum): report it now. While a
      // write is in flight, its completion reports it.
      if (!this.#persisting) this.#emitChanges();
    }, this.#tickIntervalMs);
  }

  #onMessage(from: NodeId, message: unknown): void {
    if (this.#stopped || typeof message !== 'object' || message === null) return;
    const m = message as { type?: unknown; from?: unknown };
    if (typeof m.type !== 'string' || m.from !== from) {
      this.#logger.warn({ from, code: 'SKEIN_BAD_MESSAGE' }, 'dropped a malformed raft message');
      return;
    }
    if (this.#admin.handles(m.type)) {
      this.#admin.receive(from, message);
      return;
    }
    if (m.type === 'snapshot-response') {
      const r = message as Partial<SnapshotResponse>;
      if (
        typeof r.index === 'number' &&
        typeof r.seq === 'number' &&
        typeof r.nextOffset === 'number' &&
        typeof r.accepted === 'boolean' &&
        typeof r.complete === 'boolean'
      ) {
        this.#sender.onResponse(from, r as SnapshotResponse);
      }
      return;
    }
    if (!isRaftMessage(message)) {
      this.#logger.warn(
        { from, type: m.type, code: 'SKEIN_BAD_MESSAGE' },
        'dropped a malformed raft message',
      );
      return;
    }
    if (message.type === 'propose' || message.type === 'read-index') this.#commitNotices.prompt(from);
    this.#core.step(message);
    this.#scheduleDrive();
  }

  #scheduleDrive(): void {
    if (this.#driveScheduled || this.#stopped) return;
    this.#driveScheduled = true;
    this.#defer(() => {
      this.#driveScheduled = false;
      this.#drive();
    });
  }

  /**
   * Process Ready batches until there is nothing left. While a storage write is in flight, only
   * the work that needs no write of its own goes on (sending appends, committing and applying
   * what is already durable, reads): the next batch to write accumulates meanwhile, which is what
   * makes one fdatasync carry many entries.
   */
  #drive(): void {
    this.#proposeBatch();
    while (!this.#stopped && !this.#restoring) {
      if (this.#persisting) {
        if (this.#core.hasReadyWithoutPersist())
          this.#processWithoutPersist(this.#core.readyWithoutPersist());
        return;
      }
      if (!this.#core.hasReady()) return;
      const { committedEntries, ...rest } = this.#core.ready();
      const ready: Ready = { ...rest, committedEntries: [] };
      this.#sendAll(ready.messagesNow);
      let written: void | Promise<void>;
      try {
        written = this.#storage.persist(ready);
      } catch (error) {
        this.#fatal(error);
        return;
      }
      // The core hands out only committed entries that are durable here: apply them now, while
      // this batch's write is under way (FileStorage has started its fdatasync), not after it.
      this.#applyCommitted(committedEntries);
      if (written instanceof Promise) {
        this.#persisting = true;
        this.#awaitPersist(ready, written);
        continue;
      }
      this.#afterPersist(ready);
    }
  }

  /** Apply entries that are committed and durable, and tell the core. */
  #applyCommitted(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) this.#apply(entry);
    this.#core.advance({ ...nothingToDo, committedEntries: entries });
  }

  /** Carry out a Ready from `readyWithoutPersist` (nothing in it needs a write). */
  #processWithoutPersist(ready: Ready): void {
    this.#sendAll(ready.messagesNow);
    this.#applyCommitted(ready.committedEntries);
    this.#core.advance({ ...ready, committedEntries: [] });
    for (const rs of ready.readStates) this.#onReadState(rs.requestId, rs.index);
    for (const peer of ready.snapshotsToSend) void this.#sender.start(peer);
    this.#maybeSnapshot();
    this.#releaseReads();
    this.#emitChanges();
    this.#waiters.checkAll();
  }

  /** Propose the commands enqueued since the last drive; if the core refuses them, fail them. */
  #proposeBatch(): void {
    if (this.#proposals.length === 0 || this.#stopped) return;
    const leading = this.leadingTerm;
    const items: Proposal[] = [];
    const fenced: Proposal[] = [];
    for (const p of this.#proposals) {
      (p.leaderTerm === undefined || p.leaderTerm === leading ? items : fenced).push(p);
    }
    this.#proposals = [];
    if (fenced.length > 0) {
      this.#rejectProposals(
        fenced,
        raftError(
          RaftErrorCode.NotLeader,
          'not proposed: this node no longer leads the term it was meant for',
        ),
      );
    }
    if (items.length === 0) return;
    const result = this.#core.propose(items);
    if (!result.ok) this.#rejectProposals(items, result.error);
  }

  #rejectProposals(items: readonly { readonly requestId: string }[], error: SkeinError): void {
    for (const item of items) {
      const pending = this.#pending.get(item.requestId);
      if (pending === undefined) continue; // already timed out
      this.#pending.delete(item.requestId);
      this.#clock.clearTimeout(pending.timer);
      pending.reject(error);
    }
  }

  /**
   * Wait for a batch to become durable. A full disk is not fatal: the same batch is retried with
   * backoff (new commands are refused with SKEIN_STORAGE_FULL meanwhile) until space returns.
   */
  #awaitPersist(ready: Ready, written: Promise<void>, attempt = 0): void {
    written.then(
      () => {
        if (this.#storageFull) this.#logger.info('storage has room again; writes resume');
        this.#storageFull = false;
        this.#persisting = false;
        this.#afterPersist(ready);
        this.#drive();
      },
      (error: unknown) => {
        if (!hasCode(error, 'SKEIN_STORAGE_FULL') || this.#stopped) {
          this.#fatal(error);
          return;
        }
        if (!this.#storageFull)
          this.#logger.error({ code: 'SKEIN_STORAGE_FULL' }, 'storage is full; retrying');
        this.#storageFull = true;
        const delayMs = Math.min(5_000, this.#tickIntervalMs * 2 ** Math.min(attempt, 6));
        this.#clock.setTimeout(() => {
          if (this.#stopped) return;
          let retry: void | Promise<void>;
          try {
            retry = this.#storage.persist(ready);
          } catch (e) {
            retry = Promise.reject(e instanceof Error ? e : new Error(String(e)));
          }
          this.#awaitPersist(ready, retry instanceof Promise ? retry : Promise.resolve(), attempt + 1);
        }, delayMs);
      },
    );
  }

  #afterPersist(ready: Ready): void {
    if (this.#stopped) return;
    this.#sendAll(ready.messagesAfterPersist);
    this.#core.advance(ready);
    for (const rs of ready.readStates) this.#onReadState(rs.requestId, rs.index);
    for (const peer of ready.snapshotsToSend) void this.#sender.start(peer);
    for (const chunk of ready.snapshotChunks) this.#receiver.onChunk(chunk);
    this.#maybeSnapshot();
    this.#releaseReads();
    this.#emitChanges();
    this.#waiters.checkAll();
  }

  #sendAll(messages: readonly RaftMessage[]): void {
    for (const m of messages) {
      if (m.type === 'heartbeat' && m.commitOnly) {
        this.#commitNotices.hold(m);
        continue;
      }
      if (m.type === 'append' || m.type === 'heartbeat') this.#commitNotices.carried(m.to, m.commit);
      this.#transport.send(m.to, m);
    }
  }

  #apply(entry: Entry): void {
    const awaited = this.#awaitedChange;
    // Only the entry committed at an index is ever applied there: this settles the change's fate,
    // even after leadership changed (its entry may have survived the new leader, or been replaced).
    if (awaited !== null && entry.index === awaited.index)
      awaited.outcome = entry.term === awaited.term ? 'applied' : 'superseded';
    if (entry.kind !== EntryKind.Normal) return;
    const command = decodeCommand(entry.data);
    if (command === null) {
      this.#logger.error(
        { index: entry.index, code: 'SKEIN_BAD_COMMAND' },
        'skipped an entry that is not a command',
      );
      return;
    }
    if (entry.data instanceof Uint8Array) this.#bytesSinceSnapshot += entry.data.byteLength;
    // A proposal forwarded twice (a duplicated message) commits twice; apply it once.
    if (!this.#recentRequests.add(command.requestId)) return;
    const applied: AppliedCommand = {
      index: entry.index,
      term: entry.term,
      action: command.action,
      params: command.params,
    };
    const { result, failure } = this.#runProcessor(applied);
    if (failure !== null) this.emit('apply-error', applied, failure);
    else this.emit('applied', applied, result);
    const pending = this.#pending.get(command.requestId);
    if (pending !== undefined) {
      this.#pending.delete(command.requestId);
      this.#clock.clearTimeout(pending.timer);
      if (failure !== null) pending.reject(failure);
      else pending.resolve(result);
    }
  }

  /** Run the command's processor; a throw becomes a failure for the caller, never for the node. */
  #runProcessor(command: AppliedCommand): { result: unknown; failure: unknown } {
    const processor = Object.hasOwn(this.#processors, command.action)
      ? this.#processors[command.action]
      : undefined;
    if (processor === undefined) {
      const what = `no processor for action "${command.action}" at index ${command.index}`;
      return { result: undefined, failure: raftError(RaftErrorCode.UnknownAction, what) };
    }
    try {
      return { result: processor(command.params), failure: null };
    } catch (error) {
      const what = `processor "${command.action}" threw at index ${command.index}`;
      return { result: undefined, failure: raftError(RaftErrorCode.ProcessorFailed, what, { cause: error }) };
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots
  // ---------------------------------------------------------------------------------------------

  /** Take a snapshot when enough has been applied since the last one, then compact behind it. */
  #maybeSnapshot(): void {
    const sm = this.#stateMachine;
    if (sm === undefined || this.#snapshotting || this.#restoring) return;
    const applied = this.#core.log.appliedIndex;
    const due =
      (applied - this.#lastSnapshotIndex >= this.#snapshotEveryEntries ||
        this.#bytesSinceSnapshot >= this.#snapshotEveryBytes) &&
      this.#bytesSinceSnapshot >= this.#snapshotMinLogToStateRatio * this.#lastSnapshotBytes;
    if (!due || applied <= this.#lastSnapshotIndex) return;
    const data = sm.snapshot(); // point-in-time capture, right after applying `applied`
    const meta: SnapshotMeta = {
      index: applied,
      term: this.#core.log.term(applied)!,
      config: this.#core.configAt(applied),
      clusterId: this.#core.clusterId,
      sizeBytes: -1, // counted by the storage as it writes (the envelope adds a header)
    };
    this.#snapshotting = true;
    this.#bytesSinceSnapshot = 0;
    const started = this.#clock.now();
    this.#storage
      // The dedupe window is replicated state too: it travels in the snapshot's envelope.
      .saveSnapshot(
        meta,
        wrapSnapshot(
          { recentRequests: this.#recentRequests.toArray() },
          asChunks(data, this.#clock, this.#defer),
        ),
      )
      .then(async () => {
        this.#lastSnapshotIndex = Math.max(this.#lastSnapshotIndex, applied);
        this.#lastSnapshotBytes = (await this.#storage.openSnapshot())?.meta.sizeBytes ?? 0;
        const compactTo = applied - this.#keepEntriesAfterSnapshot;
        this.#core.compact(compactTo);
        if (compactTo > 0) await this.#storage.compact(compactTo);
        this.#logger.info({ index: applied, ms: Math.round(this.#clock.now() - started) }, 'snapshot taken');
      })
      .catch((error: unknown) => {
        if (this.#stopIfStorageFailed(error)) return;
        this.#logger.error({ err: error, index: applied }, 'snapshot failed; the log is kept');
      })
      .finally(() => {
        this.#snapshotting = false;
      });
  }

  /** A snapshot from the leader is durable: load it into the state machine and the core. */
  async #installSnapshot(meta: SnapshotMeta, from: NodeId): Promise<void> {
    const sm = this.#stateMachine;
    if (sm === undefined)
      throw new SkeinError('SKEIN_INVALID_CONFIG', 'received a snapshot but no stateMachine is configured');
    this.#restoring = true;
    try {
      if (meta.index <= this.#core.log.commitIndex) return; // overtaken; never roll the state back
      const reader = await this.#storage.openSnapshot();
      if (reader?.meta.index !== meta.index)
        throw new Error(`stored snapshot is not the one received (${meta.index})`);
      const { header, user } = await unwrapSnapshot(reader.chunks(this.#snapshotChunkBytes));
      await sm.restore(user);
      this.#core.installSnapshot(meta, from);
      this.#lastSnapshotIndex = meta.index;
      this.#lastSnapshotBytes = reader.meta.sizeBytes;
      this.#bytesSinceSnapshot = 0;
      this.#recentRequests.load(header.recentRequests);
      await this.#storage.compact(meta.index);
    } finally {
      this.#restoring = false;
      this.#scheduleDrive();
    }
  }

  /** Restart: rebuild the state machine from the durable snapshot before applying anything. */
  #restoreOnStart(): void {
    const sm = this.#stateMachine!;
    this.#restoring = true;
    this.#storage
      .openSnapshot()
      .then(async (reader) => {
        if (reader === null) return;
        const { header, user } = await unwrapSnapshot(reader.chunks(this.#snapshotChunkBytes));
        await sm.restore(user);
        this.#recentRequests.load(header.recentRequests);
        this.#lastSnapshotBytes = reader.meta.sizeBytes;
      })
      .then(
        () => {
          this.#restoring = false;
          this.#scheduleDrive();
        },
        (error: unknown) => {
          this.#fatal(error);
        },
      );
  }

  // ---------------------------------------------------------------------------------------------
  // Reads
  // ---------------------------------------------------------------------------------------------

  /** One ReadIndex round at a time; reads that arrive meanwhile share the next round. */
  #startReadRound(): void {
    if (this.#readRoundInFlight || this.#queuedReads.length === 0) return;
    const batch = this.#queuedReads;
    this.#queuedReads = [];
    const requestId = this.#nextReadId++;
    this.#readRoundInFlight = true;
    this.#reads.set(requestId, {
      run: () => {
        for (const r of batch) r.run();
      },
      reject: (e) => {
        for (const r of batch) r.reject(e);
      },
    });
    // If the round gets no answer (lost message, leader change), give up on it and move on.
    const timer = this.#clock.setTimeout(() => {
      this.#readTimers.delete(timer);
      const round = this.#reads.get(requestId);
      if (round === undefined) return;
      this.#reads.delete(requestId);
      this.#readRoundInFlight = false;
      round.reject(raftError(RaftErrorCode.Timeout, 'read index not confirmed'));
      this.#startReadRound();
    }, this.#requestTimeoutMs);
    this.#readTimers.add(timer);
    this.#core.readIndex(requestId);
    this.#scheduleDrive();
  }

  #onReadState(requestId: number, index: number): void {
    const round = this.#reads.get(requestId);
    if (round === undefined) return;
    this.#reads.delete(requestId);
    this.#readRoundInFlight = false;
    if (index < 0) {
      round.reject(
        this.#core.leaderId === null
          ? raftError(RaftErrorCode.NoLeader, 'read not served')
          : raftError(RaftErrorCode.NotLeader, 'read not served: leadership changed'),
      );
    } else {
      this.#readsAwaitingApply.push({ index, run: round.run, reject: round.reject });
    }
    this.#startReadRound();
  }

  #releaseReads(): void {
    if (this.#readsAwaitingApply.length === 0) return;
    const applied = this.#core.log.appliedIndex;
    const ready = this.#readsAwaitingApply.filter((r) => r.index <= applied);
    if (ready.length === 0) return;
    this.#readsAwaitingApply = this.#readsAwaitingApply.filter((r) => r.index > applied);
    for (const r of ready) r.run();
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers
  // ---------------------------------------------------------------------------------------------

  #emitChanges(): void {
    const { role, term, leaderId, config } = this.#core;
    if (role !== this.#lastRole) {
      this.#lastRole = role;
      this.#logger.info({ role, term }, 'role changed');
      this.emit('role', role, term);
    }
    if (leaderId !== this.#lastLeader) {
      this.#lastLeader = leaderId;
      this.emit('leader', leaderId, term);
    }
    if (config !== this.#lastConfig) {
      this.#lastConfig = config;
      for (const [id, address] of [...Object.entries(config.voters), ...Object.entries(config.learners)]) {
        if (id !== this.id) this.#transport.setPeerAddress(id, address);
      }
      this.#logger.info({ config }, 'configuration changed');
      this.emit('configuration', config);
    }
  }

  #failAllPending(error: SkeinError): void {
    for (const p of this.#pending.values()) {
      this.#clock.clearTimeout(p.timer);
      p.reject(error);
    }
    this.#pending.clear();
    this.#proposals = [];
    for (const r of this.#reads.values()) r.reject(error);
    this.#reads.clear();
    for (const t of this.#readTimers) this.#clock.clearTimeout(t);
    this.#readTimers.clear();
    for (const r of this.#queuedReads) r.reject(error);
    this.#queuedReads = [];
    for (const r of this.#readsAwaitingApply) r.reject(error);
    this.#readsAwaitingApply = [];
    this.#readRoundInFlight = false;
    this.#waiters.rejectAll(error);
  }

  /**
   * A snapshot's save or install, or a compaction, failed. An I/O error that leaves the storage
   * refusing every later write (SKEIN_STORAGE_FAILED, e.g. in the rename) stops the node now, as a
   * failed log write does, rather than let it linger (perhaps as leader) until its next write.
   * Returns whether it did.
   */
  #stopIfStorageFailed(error: unknown): boolean {
    if (!hasCode(error, 'SKEIN_STORAGE_FAILED')) return false;
    this.#fatal(error);
    return true;
  }

  #fatal(error: unknown): void {
    if (this.#stopped) return; // already stopping: by request, or for an earlier storage failure
    this.#logger.error({ err: error }, 'storage failed; stopping the node');
    this.emit('error', error);
    this.stop().catch((closeError: unknown) => {
      this.#logger.error({ err: closeError }, 'closing after a storage failure failed too');
    });
  }
}

/** A Ready with nothing in it, to build partial ones from. */
const nothingToDo: Ready = {
  reset: false,
  mustSync: false,
  hardState: null,
  truncateFrom: null,
  entries: [],
  messagesNow: [],
  messagesAfterPersist: [],
  committedEntries: [],
  readStates: [],
  snapshotsToSend: [],
  snapshotChunks: [],
};

/** See {@link asChunks}. */
const SNAPSHOT_ENCODE_SLICE_MS = 4;

/**
 * Normalize what a state machine's snapshot() returned into an async stream of chunks.
 *
 * A state machine may encode its snapshot lazily, as its iterable is read (skein/kv does). Without
 * a pause the whole encoding would run in one turn of the event loop — 300–700 ms for 100,000
 * keys — and stall every request and heartbeat meanwhile; so control goes back to the event loop
 * after each slice of SNAPSHOT_ENCODE_SLICE_MS.
 */
async function* asChunks(
  data: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  clock: Clock,
  defer: (fn: () => void) => void,
): AsyncIterable<Uint8Array> {
  if (data instanceof Uint8Array) {
    yield data;
    return;
  }
  if (Symbol.asyncIterator in data) {
    yield* data;
    return;
  }
  yield* inTimeSlices(data, { sliceMs: SNAPSHOT_ENCODE_SLICE_MS, clock, defer });
}

/** A copy of `record` without the keys in `ids`. */
function without(record: Readonly<Record<NodeId, string>>, ids: readonly NodeId[]): Record<NodeId, string> {
  return Object.fromEntries(Object.entries(record).filter(([id]) => !ids.includes(id)));
}

const raftTypes = new Set([
  'vote',
  'pre-vote',
  'vote-response',
  'pre-vote-response',
  'append',
  'append-response',
  'heartbeat',
  'heartbeat-response',
  'timeout-now',
  'propose',
  'read-index',
  'read-index-response',
  'snapshot',
]);

/** Shape check at the network boundary: a peer's bug must not crash us. */
function isRaftMessage(m: unknown): m is RaftMessage {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  if (typeof r['type'] !== 'string' || !raftTypes.has(r['type'])) return false;
  if (typeof r['to'] !== 'string' || typeof r['term'] !== 'number' || typeof r['clusterId'] !== 'string') {
    return false;
  }
  if (r['type'] === 'snapshot') {
    const meta = r['meta'] as Record<string, unknown> | null | undefined;
    return (
      typeof meta === 'object' &&
      meta !== null &&
      typeof meta['index'] === 'number' &&
      typeof meta['term'] === 'number' &&
      typeof r['offset'] === 'number' &&
      r['data'] instanceof Uint8Array &&
      typeof r['done'] === 'boolean'
    );
  }
  if (r['type'] === 'append') {
    return (
      Array.isArray(r['entries']) &&
      typeof r['prevIndex'] === 'number' &&
      typeof r['prevTerm'] === 'number' &&
      typeof r['commit'] === 'number'
    );
  }
  return true;
}
