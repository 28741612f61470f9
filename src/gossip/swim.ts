import { MinHeap } from '../core/heap.ts';
import type { Random } from '../core/random.ts';
import { SkeinError } from '../core/errors.ts';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.ts';
import { resolveGossipConfig, type GossipConfig } from './config.ts';
import { GossipErrorCode } from './errors.ts';
import { GossipEventType, type GossipEvent, type Outgoing } from './events.ts';
import { MemberTable, isLive, snapshot, type Member, type MemberInfo } from './members.ts';
import {
  MemberState,
  isMetadata,
  metadataEqual,
  parseMessage,
  type GossipMessage,
  type Metadata,
  type Update,
  type WireMember,
} from './messages.ts';
import { Suspicion, minSuspicionTimeoutMs } from './suspicion.ts';
import { VivaldiClient, distanceS, type Coordinate, type VivaldiConfig } from './vivaldi.ts';

export interface SwimOptions {
  /** This member's id; with the TCP transport, its advertised "host:port" (see docs/gossip.md). */
  id: string;
  metadata?: Metadata;
  random: Random;
  /** Local time at creation. */
  nowMs: number;
  config?: Partial<GossipConfig>;
  vivaldi?: Partial<VivaldiConfig>;
}

/** The probe in flight: SWIM runs one per protocol period. */
interface Probe {
  readonly seq: number;
  readonly target: string;
  readonly sentMs: number;
  readonly indirectAtMs: number;
  readonly deadlineMs: number;
  indirectSent: boolean;
  expectedNacks: number;
  nacks: number;
}

/** An indirect probe run for another member (a ping-req we accepted). */
interface Relay {
  readonly requester: string;
  readonly requesterSeq: number;
  readonly deadlineMs: number;
}

/**
 * SWIM with Lifeguard, as a pure state machine: no I/O, no timers, no ambient randomness. Inputs
 * are {@link tick}, {@link receive}, {@link join}, {@link leave} and {@link updateMetadata}, each
 * stamped with the local time; outputs (messages to send, membership events) accumulate until
 * the driver collects them with {@link takeOutput}, and {@link nextDeadlineMs} says when to tick.
 */
export class SwimCore {
  readonly id: string;
  readonly config: GossipConfig;
  #nowMs: number;
  readonly #random: Random;
  readonly #table: MemberTable;
  readonly #self: Member;
  readonly #queue: BroadcastQueue;
  readonly #vivaldi: VivaldiClient | undefined;
  readonly #coordinates = new Map<string, Coordinate>();
  /** Lifeguard local-health score: 0 is healthy; timeouts and intervals scale by (score + 1). */
  #awareness = 0;
  #seq = 0;
  #probe: Probe | undefined;
  readonly #relays = new Map<number, Relay>();
  readonly #suspicionTimers = new MinHeap<{ dueMs: number; id: string }>((a, b) => a.dueMs < b.dueMs);
  #nextProbeMs: number;
  #nextGossipMs: number;
  #nextPushPullMs: number;
  #nextReconnectMs: number;
  #nextReapMs: number;
  #leaving = false;
  #syncReplies = 0;
  #outbox: Outgoing[] = [];
  #events: GossipEvent[] = [];

  constructor(options: SwimOptions) {
    this.config = resolveGossipConfig(options.config);
    this.id = options.id;
    this.#nowMs = options.nowMs;
    this.#random = options.random;
    this.#table = new MemberTable(options.id, options.random.fork());
    this.#queue = new BroadcastQueue(this.config.maxQueuedUpdates);
    this.#vivaldi = this.config.vivaldi
      ? new VivaldiClient(options.random.fork(), options.vivaldi)
      : undefined;
    const metadata = options.metadata ?? {};
    this.#checkMetadata(metadata);
    this.#self = {
      id: options.id,
      incarnation: 0,
      state: MemberState.Alive,
      metadata,
      stateChangeMs: options.nowMs,
      suspicion: undefined,
    };
    this.#table.add(this.#self);
    const c = this.config;
    // Stagger the first probe so that members started together do not probe in lockstep.
    this.#nextProbeMs = options.nowMs + this.#random.int(c.probeIntervalMs);
    this.#nextGossipMs = options.nowMs + this.#random.int(c.gossipIntervalMs);
    this.#nextPushPullMs = options.nowMs + c.pushPullIntervalMs + this.#random.int(c.pushPullIntervalMs + 1);
    this.#nextReconnectMs =
      options.nowMs + c.reconnectIntervalMs + this.#random.int(c.reconnectIntervalMs + 1);
    this.#nextReapMs = options.nowMs + c.probeIntervalMs;
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** Contact the seeds (ids, i.e. addresses) with a full-state sync; safe to repeat. */
  join(seeds: readonly string[], nowMs: number): void {
    this.#enter(nowMs);
    const members = this.#table.toWire();
    for (const seed of seeds) if (seed !== this.id) this.#send(seed, { t: 'sync', reply: false, members });
  }

  /** Announce a graceful leave. The core then only disseminates; see {@link leaveDisseminated}. */
  leave(nowMs: number): void {
    this.#enter(nowMs);
    if (this.#leaving) return;
    this.#leaving = true;
    this.#table.setState(this.#self, MemberState.Left, nowMs);
    this.#queue.push({ k: 'dead', id: this.id, inc: this.#self.incarnation, from: this.id });
    this.#gossipRound();
  }

  /** Replace this member's metadata and disseminate it (a new incarnation carries it). */
  updateMetadata(metadata: Metadata, nowMs: number): void {
    this.#enter(nowMs);
    this.#checkMetadata(metadata);
    this.#self.metadata = metadata;
    this.#self.incarnation++;
    this.#broadcastSelfAlive();
  }

  /** Handle a message from `from` (as authenticated by the transport). Malformed input is dropped. */
  receive(from: string, raw: unknown, nowMs: number): void {
    this.#enter(nowMs);
    const dimensions = this.#vivaldi?.dimensionality ?? 0;
    const message = parseMessage(raw, this.config.maxUpdatesPerMessage, dimensions);
    if (message === undefined || from === this.id) return;
    switch (message.t) {
      case 'ping':
        this.#applyUpdates(from, message.up);
        if (message.target === this.id) {
          const coord = this.#vivaldi?.coordinate ?? null;
          this.#send(from, {
            t: 'ack',
            seq: message.seq,
            coord,
            up: this.#piggyback(this.#suspicionOf(from)),
          });
        }
        return;
      case 'ack':
        this.#applyUpdates(from, message.up);
        this.#onAck(from, message.seq, message.coord);
        return;
      case 'preq':
        this.#onPingRequest(from, message.seq, message.target);
        return;
      case 'nack':
        if (this.#probe?.seq === message.seq) this.#probe.nacks++;
        return;
      case 'gossip':
        this.#applyUpdates(from, message.up);
        return;
      case 'sync':
        this.#onSync(from, message.reply, message.members);
        return;
    }
  }

  /** Run every timer due at `nowMs`. */
  tick(nowMs: number): void {
    this.#enter(nowMs);
    this.#checkProbe();
    this.#expireRelays();
    this.#expireSuspicions();
    const c = this.config;
    if (nowMs >= this.#nextProbeMs) {
      this.#nextProbeMs = nowMs + c.probeIntervalMs * (this.#awareness + 1);
      if (!this.#leaving) this.#startProbe();
    }
    if (nowMs >= this.#nextGossipMs) {
      this.#nextGossipMs = nowMs + c.gossipIntervalMs;
      this.#gossipRound();
    }
    if (nowMs >= this.#nextPushPullMs) {
      this.#nextPushPullMs = nowMs + pushPullScale(c.pushPullIntervalMs, this.#table.liveCount);
      if (c.pushPullIntervalMs > 0 && !this.#leaving) this.#syncWithRandom(isLive);
    }
    if (nowMs >= this.#nextReconnectMs) {
      this.#nextReconnectMs = nowMs + c.reconnectIntervalMs;
      if (c.reconnectIntervalMs > 0 && !this.#leaving)
        this.#syncWithRandom((m) => m.state === MemberState.Dead);
    }
    if (nowMs >= this.#nextReapMs) {
      this.#nextReapMs = nowMs + c.probeIntervalMs;
      this.#reap();
    }
  }

  // ---- outputs and queries ------------------------------------------------------------------

  /** Messages to send and events to deliver since the last call. */
  takeOutput(): { messages: Outgoing[]; events: GossipEvent[] } {
    const output = { messages: this.#outbox, events: this.#events };
    this.#outbox = [];
    this.#events = [];
    return output;
  }

  /** The earliest local time at which {@link tick} has work to do. */
  nextDeadlineMs(): number {
    const c = this.config;
    let due = Math.min(this.#nextProbeMs, this.#nextGossipMs, this.#nextReapMs);
    if (c.pushPullIntervalMs > 0) due = Math.min(due, this.#nextPushPullMs);
    if (c.reconnectIntervalMs > 0) due = Math.min(due, this.#nextReconnectMs);
    if (this.#probe !== undefined) {
      due = Math.min(due, this.#probe.indirectSent ? this.#probe.deadlineMs : this.#probe.indirectAtMs);
    }
    const relay = this.#relays.values().next();
    if (relay.done !== true) due = Math.min(due, relay.value.deadlineMs);
    const suspicion = this.#suspicionTimers.peek();
    if (suspicion !== undefined) due = Math.min(due, suspicion.dueMs);
    return due;
  }

  get incarnation(): number {
    return this.#self.incarnation;
  }

  /** Lifeguard local-health score (0 = healthy, up to awarenessMaxMultiplier − 1). */
  get localHealth(): number {
    return this.#awareness;
  }

  /** True once a sync reply has been received (the member has joined someone). */
  get syncRepliesReceived(): number {
    return this.#syncReplies;
  }

  /** True when the leave announcement has been sent as many times as any update is. */
  get leaveDisseminated(): boolean {
    return this.#leaving && this.#queue.get(this.id) === undefined;
  }

  member(id: string): MemberInfo | undefined {
    const member = this.#table.get(id);
    return member === undefined ? undefined : snapshot(member);
  }

  /** Every known member, this one included, with failed and departed ones still remembered. */
  members(): MemberInfo[] {
    return Array.from(this.#table.values(), snapshot);
  }

  /** This member's Vivaldi coordinate, or another's as last reported in an ack. */
  coordinate(id: string = this.id): Coordinate | undefined {
    return id === this.id ? this.#vivaldi?.coordinate : this.#coordinates.get(id);
  }

  /** Estimated RTT between two members from their coordinates; undefined if either is unknown. */
  estimateRttMs(a: string, b: string): number | undefined {
    const ca = this.coordinate(a);
    const cb = this.coordinate(b);
    return ca === undefined || cb === undefined ? undefined : distanceS(ca, cb) * 1000;
  }

  /** Up to `k` live members nearest to `id` by estimated RTT, nearest first. */
  nearest(id: string, k: number): { id: string; rttMs: number }[] {
    const out: { id: string; rttMs: number }[] = [];
    for (const member of this.#table.values()) {
      if (member.id === id || member.state !== MemberState.Alive) continue;
      const rttMs = this.estimateRttMs(id, member.id);
      if (rttMs !== undefined) out.push({ id: member.id, rttMs });
    }
    return out.sort((x, y) => x.rttMs - y.rttMs || (x.id < y.id ? -1 : 1)).slice(0, k);
  }

  // ---- failure detection --------------------------------------------------------------------

  #startProbe(): void {
    const target = this.#table.nextProbeTarget();
    if (target === undefined) return;
    const c = this.config;
    const seq = ++this.#seq;
    this.#probe = {
      seq,
      target,
      sentMs: this.#nowMs,
      indirectAtMs: this.#nowMs + c.probeTimeoutMs,
      // Lifeguard LHA-probe: a member that is itself unhealthy waits longer before blaming others.
      deadlineMs: this.#nowMs + c.probeIntervalMs * (this.#awareness + 1),
      indirectSent: false,
      expectedNacks: 0,
      nacks: 0,
    };
    // Lifeguard's buddy system: a ping to a suspect carries the suspicion so it can refute at once.
    this.#send(target, { t: 'ping', seq, target, up: this.#piggyback(this.#suspicionOf(target)) });
  }

  #checkProbe(): void {
    const probe = this.#probe;
    if (probe === undefined) return;
    if (!probe.indirectSent && this.#nowMs >= probe.indirectAtMs) {
      probe.indirectSent = true;
      const helpers = this.#table.randomMembers(
        this.config.indirectChecks,
        (m) => m.state === MemberState.Alive && m.id !== probe.target,
      );
      for (const helper of helpers)
        this.#send(helper.id, { t: 'preq', seq: probe.seq, target: probe.target });
      probe.expectedNacks = helpers.length;
    }
    if (this.#nowMs < probe.deadlineMs) return;
    this.#probe = undefined;
    // Lifeguard LHA: missing nacks mean *our* links are bad, not (only) the target's.
    const missing = probe.expectedNacks > 0 ? probe.expectedNacks - probe.nacks : 1;
    this.#adjustAwareness(Math.max(0, missing));
    const member = this.#table.get(probe.target);
    if (member !== undefined && isLive(member)) {
      this.#applySuspect({ k: 'suspect', id: member.id, inc: member.incarnation, from: this.id });
    }
  }

  #onAck(from: string, seq: number, coord: Coordinate | null): void {
    const relay = this.#relays.get(seq);
    if (relay !== undefined) {
      this.#relays.delete(seq);
      this.#send(relay.requester, { t: 'ack', seq: relay.requesterSeq, coord: null, up: this.#piggyback() });
      return;
    }
    const probe = this.#probe;
    if (probe?.seq !== seq) return;
    this.#probe = undefined;
    this.#adjustAwareness(-1);
    if (from === probe.target && coord !== null && this.#vivaldi !== undefined) {
      this.#vivaldi.update(from, coord, this.#nowMs - probe.sentMs);
      this.#coordinates.set(from, coord);
    }
  }

  #onPingRequest(from: string, requesterSeq: number, target: string): void {
    if (this.#leaving || this.#relays.size >= this.config.maxPendingRelays || target === this.id) return;
    const seq = ++this.#seq;
    this.#relays.set(seq, {
      requester: from,
      requesterSeq,
      deadlineMs: this.#nowMs + this.config.probeTimeoutMs,
    });
    this.#send(target, { t: 'ping', seq, target, up: this.#piggyback() });
  }

  #expireRelays(): void {
    // Relays share one timeout, so insertion order is deadline order.
    for (const [seq, relay] of this.#relays) {
      if (relay.deadlineMs > this.#nowMs) return;
      this.#relays.delete(seq);
      this.#send(relay.requester, { t: 'nack', seq: relay.requesterSeq });
    }
  }

  #expireSuspicions(): void {
    for (;;) {
      const timer = this.#suspicionTimers.peek();
      if (timer === undefined || timer.dueMs > this.#nowMs) return;
      this.#suspicionTimers.pop();
      const member = this.#table.get(timer.id);
      const suspicion = member?.suspicion;
      if (member === undefined || suspicion === undefined || suspicion.deadlineMs > this.#nowMs) continue;
      this.#applyDead({ k: 'dead', id: member.id, inc: member.incarnation, from: this.id });
    }
  }

  #adjustAwareness(delta: number): void {
    const max = this.config.awarenessMaxMultiplier - 1;
    this.#awareness = Math.min(max, Math.max(0, this.#awareness + delta));
  }

  // ---- dissemination ------------------------------------------------------------------------

  #piggyback(first?: Update): Update[] {
    const up: Update[] = first === undefined ? [] : [first];
    const limit = retransmitLimit(this.config.retransmitMult, this.#table.liveCount);
    return this.#queue.take(this.config.maxUpdatesPerMessage - up.length, limit, up);
  }

  #gossipRound(): void {
    if (this.#queue.size === 0) return;
    const deadWindowMs = this.config.gossipToTheDeadMs;
    const targets = this.#table.randomMembers(
      this.config.gossipNodes,
      (m) => isLive(m) || (m.state === MemberState.Dead && this.#nowMs - m.stateChangeMs < deadWindowMs),
    );
    for (const target of targets) {
      const up = this.#piggyback();
      if (up.length === 0) return;
      this.#send(target.id, { t: 'gossip', up });
    }
  }

  #syncWithRandom(accept: (member: Member) => boolean): void {
    const [peer] = this.#table.randomMembers(1, accept);
    if (peer !== undefined) this.#send(peer.id, { t: 'sync', reply: false, members: this.#table.toWire() });
  }

  #onSync(from: string, reply: boolean, rows: readonly WireMember[]): void {
    if (this.#leaving) return;
    if (reply) this.#syncReplies++;
    for (const row of rows) this.#mergeRow(row);
    if (!reply) this.#send(from, { t: 'sync', reply: true, members: this.#table.toWire() });
  }

  /**
   * Full-state merge (memberlist's mergeState). A member the peer thinks dead is only *suspected*
   * here: it gets the chance to refute, which is also how a member learns, after a partition heals,
   * that the other side buried it.
   */
  #mergeRow(row: WireMember): void {
    switch (row.st) {
      case MemberState.Alive:
        this.#applyAlive({ k: 'alive', id: row.id, inc: row.inc, meta: row.meta });
        return;
      case MemberState.Left:
        this.#applyDead({ k: 'dead', id: row.id, inc: row.inc, from: row.id });
        return;
      case MemberState.Suspect:
      case MemberState.Dead:
        this.#applySuspect({ k: 'suspect', id: row.id, inc: row.inc, from: this.id });
        return;
    }
  }

  // ---- applying updates ---------------------------------------------------------------------

  /**
   * Apply piggybacked updates from `from`. An accusation older than what we know to be true (a
   * suspicion or death notice about a member we know alive at a higher incarnation) tells us that
   * `from` missed the refutation — epidemics do miss members now and then — so we hand it the
   * refutation directly. This is what keeps a lone stale suspicion from expiring into a false death.
   */
  #applyUpdates(from: string, updates: readonly Update[]): void {
    let corrections: Update[] | undefined;
    for (const update of updates) {
      if (update.k === 'alive') this.#applyAlive(update);
      else if (update.k === 'suspect') this.#applySuspect(update);
      else this.#applyDead(update);
      if (update.k === 'alive') continue;
      const known = this.#table.get(update.id);
      if (known?.state === MemberState.Alive && known.incarnation > update.inc) {
        corrections ??= [];
        if (corrections.length < this.config.maxUpdatesPerMessage) {
          corrections.push({ k: 'alive', id: known.id, inc: known.incarnation, meta: known.metadata });
        }
      }
    }
    if (corrections !== undefined) this.#send(from, { t: 'gossip', up: corrections });
  }

  /** Our suspicion of `id`, if any, as an update to put in front of a message to it (buddy system). */
  #suspicionOf(id: string): Update | undefined {
    const member = this.#table.get(id);
    return member?.state === MemberState.Suspect
      ? { k: 'suspect', id, inc: member.incarnation, from: this.id }
      : undefined;
  }

  #applyAlive(update: Update & { k: 'alive' }): void {
    if (update.id === this.id) {
      // Someone holds a newer (or conflicting) view of us, e.g. from before a restart: out-bid it.
      const self = this.#self;
      const stale = update.inc < self.incarnation;
      const same = update.inc === self.incarnation && metadataEqual(update.meta, self.metadata);
      if (!stale && !same && !this.#leaving) this.#refute(update.inc);
      return;
    }
    let member = this.#table.get(update.id);
    if (member === undefined) {
      if (!isMetadata(update.meta) || !this.#makeRoom()) return;
      member = {
        id: update.id,
        incarnation: update.inc,
        state: MemberState.Alive,
        metadata: update.meta,
        stateChangeMs: this.#nowMs,
        suspicion: undefined,
      };
      this.#table.add(member);
      this.#queue.push(update);
      this.#emit(GossipEventType.Join, member);
      return;
    }
    if (update.inc <= member.incarnation) return;
    const previous = member.state;
    const metadataChanged = !metadataEqual(member.metadata, update.meta);
    member.incarnation = update.inc;
    member.metadata = update.meta;
    member.suspicion = undefined;
    this.#table.setState(member, MemberState.Alive, this.#nowMs);
    this.#queue.push(update);
    if (previous === MemberState.Dead || previous === MemberState.Left)
      this.#emit(GossipEventType.Join, member);
    else if (previous === MemberState.Suspect) this.#emit(GossipEventType.Alive, member);
    if (previous !== MemberState.Dead && previous !== MemberState.Left && metadataChanged) {
      this.#emit(GossipEventType.Update, member);
    }
  }

  #applySuspect(update: Update & { k: 'suspect' }): void {
    if (update.id === this.id) {
      this.#accused(update.inc);
      return;
    }
    const member = this.#table.get(update.id);
    if (member === undefined || update.inc < member.incarnation) return;
    if (member.suspicion !== undefined) {
      // An independent suspicion of the same member shortens the timeout (Lifeguard); pass it on.
      if (member.suspicion.confirm(update.from)) {
        this.#queue.push(update);
        this.#suspicionTimers.push({ dueMs: member.suspicion.deadlineMs, id: member.id });
      }
      return;
    }
    if (member.state !== MemberState.Alive) return;
    const c = this.config;
    const n = this.#table.liveCount;
    const k = n - 2 < c.suspicionMult - 2 ? 0 : c.suspicionMult - 2;
    const minMs = minSuspicionTimeoutMs(c.suspicionMult, n, c.probeIntervalMs);
    member.incarnation = update.inc;
    member.suspicion = new Suspicion(
      update.inc,
      update.from,
      this.#nowMs,
      k,
      minMs,
      minMs * c.suspicionMaxTimeoutMult,
    );
    this.#table.setState(member, MemberState.Suspect, this.#nowMs);
    this.#suspicionTimers.push({ dueMs: member.suspicion.deadlineMs, id: member.id });
    this.#queue.push(update);
    this.#emit(GossipEventType.Suspect, member);
  }

  #applyDead(update: Update & { k: 'dead' }): void {
    const left = update.from === update.id;
    if (update.id === this.id) {
      this.#accused(update.inc);
      return;
    }
    const member = this.#table.get(update.id);
    if (member === undefined || update.inc < member.incarnation) return;
    if (member.state === MemberState.Left || (member.state === MemberState.Dead && !left)) return;
    member.incarnation = update.inc;
    member.suspicion = undefined;
    this.#table.setState(member, left ? MemberState.Left : MemberState.Dead, this.#nowMs);
    this.#queue.push(update);
    this.#emit(left ? GossipEventType.Leave : GossipEventType.Dead, member);
  }

  /** Someone suspects us or declared us dead: refute unless it is stale (then see #applyUpdates). */
  #accused(incarnation: number): void {
    if (!this.#leaving && incarnation >= this.#self.incarnation) this.#refute(incarnation);
  }

  /** Out-bid a suspicion or death notice about ourselves with a higher incarnation. */
  #refute(accusedIncarnation: number): void {
    this.#self.incarnation = Math.max(this.#self.incarnation, accusedIncarnation) + 1;
    // Lifeguard: being suspected hints that *we* are slow; be more patient with others meanwhile.
    this.#adjustAwareness(1);
    this.#broadcastSelfAlive();
  }

  #broadcastSelfAlive(): void {
    const self = this.#self;
    this.#queue.push({ k: 'alive', id: self.id, inc: self.incarnation, meta: self.metadata });
  }

  // ---- housekeeping -------------------------------------------------------------------------

  /** Forget failed and departed members after their retention; true if there is room for one more. */
  #reap(): void {
    const c = this.config;
    for (const member of this.#table.values()) {
      const retentionMs =
        member.state === MemberState.Dead
          ? c.failedRetentionMs
          : member.state === MemberState.Left
            ? c.leftRetentionMs
            : -1;
      if (retentionMs >= 0 && this.#nowMs - member.stateChangeMs >= retentionMs) this.#forget(member.id);
    }
  }

  #makeRoom(): boolean {
    if (this.#table.size < this.config.maxMembers) return true;
    const victim = this.#table.oldestGone();
    if (victim === undefined) return false;
    this.#forget(victim.id);
    return true;
  }

  #forget(id: string): void {
    this.#table.remove(id);
    this.#coordinates.delete(id);
    this.#vivaldi?.forget(id);
  }

  #checkMetadata(metadata: Metadata): void {
    if (!isMetadata(metadata) || Object.keys(metadata).length > this.config.maxMetadataKeys) {
      throw new SkeinError(
        GossipErrorCode.InvalidMetadata,
        `metadata must be a flat object of at most ${this.config.maxMetadataKeys} string/number/boolean values`,
      );
    }
  }

  #emit(type: GossipEventType, member: Member): void {
    this.#events.push({ type, member: snapshot(member), atMs: this.#nowMs });
  }

  #send(to: string, message: GossipMessage): void {
    this.#outbox.push({ to, message });
  }

  #enter(nowMs: number): void {
    if (nowMs > this.#nowMs) this.#nowMs = nowMs;
  }
}

/** memberlist's pushPullScale: above 32 members, sync less often (log2 of the excess). */
function pushPullScale(intervalMs: number, members: number): number {
  const threshold = 32;
  if (members <= threshold) return intervalMs;
  return intervalMs * (Math.ceil(Math.log2(members) - Math.log2(threshold)) + 1);
}
