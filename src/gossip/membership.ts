import { MinHeap } from '../core/heap.ts';
import type { Random } from '../core/random.ts';
import { SkeinError } from '../core/errors.ts';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.ts';
import type { GossipConfig } from './config.ts';
import { GossipErrorCode } from './errors.ts';
import { GossipEventType, type GossipEvent } from './events.ts';
import { MemberTable, snapshot, type Member } from './members.ts';
import {
  MemberState,
  isMetadata,
  metadataEqual,
  type Metadata,
  type Update,
  type WireMember,
} from './messages.ts';
import { Suspicion, minSuspicionTimeoutMs } from './suspicion.ts';

/** What the membership rules tell the rest of the core about. */
export interface MembershipHooks {
  /** We refuted an accusation about ourselves (Lifeguard counts it against our local health). */
  onRefute(): void;
  /** A member was forgotten entirely (its retention ran out, or it was evicted for room). */
  onForget(id: string): void;
}

/**
 * SWIM's membership rules: how alive / suspect / dead updates about a member, ordered by its
 * incarnation number, change this node's view; the suspicion timers (Lifeguard's dynamic
 * timeouts); refutation; and the queue of updates to disseminate. No I/O: events accumulate for
 * the core to hand out, and time is whatever the core last set with {@link at}.
 */
export class Membership {
  readonly table: MemberTable;
  readonly self: Member;
  readonly queue: BroadcastQueue;
  readonly #config: GossipConfig;
  readonly #hooks: MembershipHooks;
  readonly #suspicionTimers = new MinHeap<{ dueMs: number; id: string }>((a, b) => a.dueMs < b.dueMs);
  #nowMs: number;
  #leaving = false;
  #events: GossipEvent[] = [];

  constructor(options: {
    id: string;
    metadata: Metadata;
    config: GossipConfig;
    random: Random;
    nowMs: number;
    hooks: MembershipHooks;
  }) {
    this.#config = options.config;
    this.#hooks = options.hooks;
    this.#nowMs = options.nowMs;
    this.checkMetadata(options.metadata);
    this.table = new MemberTable(options.id, options.random);
    this.queue = new BroadcastQueue(options.config.maxQueuedUpdates);
    this.self = {
      id: options.id,
      incarnation: 0,
      state: MemberState.Alive,
      metadata: options.metadata,
      stateChangeMs: options.nowMs,
      suspicion: undefined,
    };
    this.table.add(this.self);
  }

  /** Set the local time for what follows. */
  at(nowMs: number): void {
    this.#nowMs = nowMs;
  }

  get leaving(): boolean {
    return this.#leaving;
  }

  takeEvents(): GossipEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  /** Mark ourselves as leaving and queue the announcement (a death notice from ourselves). */
  leave(): void {
    this.#leaving = true;
    this.table.setState(this.self, MemberState.Left, this.#nowMs);
    this.queue.push({ k: 'dead', id: this.self.id, inc: this.self.incarnation, from: this.self.id });
  }

  updateMetadata(metadata: Metadata): void {
    this.checkMetadata(metadata);
    this.self.metadata = metadata;
    this.self.incarnation++;
    this.#broadcastSelfAlive();
  }

  /** Up to maxUpdatesPerMessage queued updates to piggyback, `first` (if any) in front. */
  piggyback(first?: Update): Update[] {
    const up: Update[] = first === undefined ? [] : [first];
    const limit = retransmitLimit(this.#config.retransmitMult, this.table.liveCount);
    return this.queue.take(this.#config.maxUpdatesPerMessage - up.length, limit, up);
  }

  /** Our suspicion of `id`, if any, as an update to put in front of a message to it (buddy system). */
  suspicionOf(id: string): Update | undefined {
    const member = this.table.get(id);
    return member?.state === MemberState.Suspect
      ? { k: 'suspect', id, inc: member.incarnation, from: this.self.id }
      : undefined;
  }

  /**
   * Apply piggybacked updates. Returns corrections for their sender: an accusation older than what
   * we know to be true (a suspicion or death notice about a member we know alive at a higher
   * incarnation) means the sender missed the refutation — epidemics do miss members now and then —
   * so the core hands it the refutation directly. This keeps a lone stale suspicion from expiring
   * into a false death.
   */
  applyUpdates(updates: readonly Update[]): Update[] | undefined {
    let corrections: Update[] | undefined;
    for (const update of updates) {
      if (update.k === 'alive') {
        this.applyAlive(update);
        continue;
      }
      if (update.k === 'suspect') this.applySuspect(update);
      else this.applyDead(update);
      const known = this.table.get(update.id);
      if (known?.state === MemberState.Alive && known.incarnation > update.inc) {
        corrections ??= [];
        if (corrections.length < this.#config.maxUpdatesPerMessage) {
          corrections.push({ k: 'alive', id: known.id, inc: known.incarnation, meta: known.metadata });
        }
      }
    }
    return corrections;
  }

  /**
   * Full-state merge (memberlist's mergeState). A member the peer thinks dead is only *suspected*
   * here: it gets the chance to refute, which is also how a member learns, after a partition heals,
   * that the other side buried it.
   */
  mergeRow(row: WireMember): void {
    switch (row.st) {
      case MemberState.Alive:
        this.applyAlive({ k: 'alive', id: row.id, inc: row.inc, meta: row.meta });
        return;
      case MemberState.Left:
        this.applyDead({ k: 'dead', id: row.id, inc: row.inc, from: row.id });
        return;
      case MemberState.Suspect:
      case MemberState.Dead:
        this.applySuspect({ k: 'suspect', id: row.id, inc: row.inc, from: this.self.id });
        return;
    }
  }

  applyAlive(update: Update & { k: 'alive' }): void {
    if (update.id === this.self.id) {
      // Someone holds a newer (or conflicting) view of us, e.g. from before a restart: out-bid it.
      const self = this.self;
      const stale = update.inc < self.incarnation;
      const same = update.inc === self.incarnation && metadataEqual(update.meta, self.metadata);
      if (!stale && !same && !this.#leaving) this.#refute(update.inc);
      return;
    }
    const member = this.table.get(update.id);
    if (member === undefined) {
      this.#addAlive(update);
      return;
    }
    if (update.inc <= member.incarnation) return;
    const previous = member.state;
    const metadataChanged = !metadataEqual(member.metadata, update.meta);
    member.incarnation = update.inc;
    member.metadata = update.meta;
    member.suspicion = undefined;
    this.table.setState(member, MemberState.Alive, this.#nowMs);
    this.queue.push(update);
    if (previous === MemberState.Dead || previous === MemberState.Left) {
      this.#emit(GossipEventType.Join, member);
      return;
    }
    if (previous === MemberState.Suspect) this.#emit(GossipEventType.Alive, member);
    if (metadataChanged) this.#emit(GossipEventType.Update, member);
  }

  applySuspect(update: Update & { k: 'suspect' }): void {
    if (update.id === this.self.id) {
      this.#accused(update.inc);
      return;
    }
    const member = this.table.get(update.id);
    if (member === undefined || update.inc < member.incarnation) return;
    if (member.suspicion !== undefined) {
      // An independent suspicion of the same member shortens the timeout (Lifeguard); pass it on.
      if (member.suspicion.confirm(update.from)) {
        this.queue.push(update);
        this.#suspicionTimers.push({ dueMs: member.suspicion.deadlineMs, id: member.id });
      }
      return;
    }
    if (member.state !== MemberState.Alive) return;
    const c = this.#config;
    const n = this.table.liveCount;
    // Expect suspicionMult − 2 confirmations, unless the cluster is too small to provide them.
    const k = n - 2 < c.suspicionMult - 2 ? 0 : c.suspicionMult - 2;
    const minMs = minSuspicionTimeoutMs(c.suspicionMult, n, c.probeIntervalMs);
    const maxMs = minMs * c.suspicionMaxTimeoutMult;
    member.incarnation = update.inc;
    member.suspicion = new Suspicion(update.inc, update.from, this.#nowMs, k, minMs, maxMs);
    this.table.setState(member, MemberState.Suspect, this.#nowMs);
    this.#suspicionTimers.push({ dueMs: member.suspicion.deadlineMs, id: member.id });
    this.queue.push(update);
    this.#emit(GossipEventType.Suspect, member);
  }

  applyDead(update: Update & { k: 'dead' }): void {
    const left = update.from === update.id;
    if (update.id === this.self.id) {
      this.#accused(update.inc);
      return;
    }
    const member = this.table.get(update.id);
    if (member === undefined || update.inc < member.incarnation) return;
    if (member.state === MemberState.Left || (member.state === MemberState.Dead && !left)) return;
    member.incarnation = update.inc;
    member.suspicion = undefined;
    this.table.setState(member, left ? MemberState.Left : MemberState.Dead, this.#nowMs);
    this.queue.push(update);
    this.#emit(left ? GossipEventType.Leave : GossipEventType.Dead, member);
  }

  /** Earliest suspicion deadline (possibly a stale one, which costs a no-op tick). */
  nextSuspicionDeadlineMs(): number | undefined {
    return this.#suspicionTimers.peek()?.dueMs;
  }

  /** Declare dead every suspect whose suspicion has run out. */
  expireSuspicions(): void {
    for (;;) {
      const timer = this.#suspicionTimers.peek();
      if (timer === undefined || timer.dueMs > this.#nowMs) return;
      this.#suspicionTimers.pop();
      const member = this.table.get(timer.id);
      const suspicion = member?.suspicion;
      if (member === undefined || suspicion === undefined || suspicion.deadlineMs > this.#nowMs) continue;
      this.applyDead({ k: 'dead', id: member.id, inc: member.incarnation, from: this.self.id });
    }
  }

  /** Forget failed and departed members whose retention has run out. */
  reap(): void {
    const c = this.#config;
    for (const member of this.table.values()) {
      let retentionMs = -1;
      if (member.state === MemberState.Dead) retentionMs = c.failedRetentionMs;
      if (member.state === MemberState.Left) retentionMs = c.leftRetentionMs;
      if (retentionMs >= 0 && this.#nowMs - member.stateChangeMs >= retentionMs) this.#forget(member.id);
    }
  }

  checkMetadata(metadata: Metadata): void {
    if (!isMetadata(metadata, this.#config.maxMetadataKeys)) {
      throw new SkeinError(
        GossipErrorCode.InvalidMetadata,
        `metadata must be a flat object of at most ${this.#config.maxMetadataKeys} string/number/boolean values`,
      );
    }
  }

  #addAlive(update: Update & { k: 'alive' }): void {
    if (!this.#makeRoom()) return;
    const member: Member = {
      id: update.id,
      incarnation: update.inc,
      state: MemberState.Alive,
      metadata: update.meta,
      stateChangeMs: this.#nowMs,
      suspicion: undefined,
    };
    this.table.add(member);
    this.queue.push(update);
    this.#emit(GossipEventType.Join, member);
  }

  /** Someone suspects us or declared us dead: refute unless it is stale (see applyUpdates). */
  #accused(incarnation: number): void {
    if (!this.#leaving && incarnation >= this.self.incarnation) this.#refute(incarnation);
  }

  /** Out-bid a suspicion or death notice about ourselves with a higher incarnation. */
  #refute(accusedIncarnation: number): void {
    this.self.incarnation = Math.max(this.self.incarnation, accusedIncarnation) + 1;
    this.#hooks.onRefute();
    this.#broadcastSelfAlive();
  }

  #broadcastSelfAlive(): void {
    const self = this.self;
    this.queue.push({ k: 'alive', id: self.id, inc: self.incarnation, meta: self.metadata });
  }

  /** Room for one more member: evict the longest-gone failed or departed one if the table is full. */
  #makeRoom(): boolean {
    if (this.table.size < this.#config.maxMembers) return true;
    const victim = this.table.oldestGone();
    if (victim === undefined) return false;
    this.#forget(victim.id);
    return true;
  }

  #forget(id: string): void {
    this.table.remove(id);
    this.queue.delete(id);
    this.#hooks.onForget(id);
  }

  #emit(type: GossipEventType, member: Member): void {
    this.#events.push({ type, member: snapshot(member), atMs: this.#nowMs });
  }
}
