import type { Random } from '../core/random.ts';
import { resolveGossipConfig, type GossipConfig } from './config.ts';
import type { GossipEvent, Outgoing } from './events.ts';
import { Membership } from './membership.ts';
import { isLive, snapshot, type Member, type MemberInfo } from './members.ts';
import {
  MemberState,
  parseMessage,
  type GossipMessage,
  type Metadata,
  type Update,
  type WireMember,
} from './messages.ts';
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
  readonly #members: Membership;
  readonly #vivaldi: VivaldiClient | undefined;
  /** Each member's coordinate as it last reported it in an ack (bounded by the member table). */
  readonly #coordinates = new Map<string, Coordinate>();
  /** Lifeguard local-health score: 0 is healthy; timeouts and intervals scale by (score + 1). */
  #awareness = 0;
  #seq = 0;
  #probe: Probe | undefined;
  readonly #relays = new Map<number, Relay>();
  #nextProbeMs: number;
  #nextGossipMs: number;
  #nextPushPullMs: number;
  #nextReconnectMs: number;
  #nextReapMs: number;
  #syncReplies = 0;
  #outbox: Outgoing[] = [];

  constructor(options: SwimOptions) {
    this.config = resolveGossipConfig(options.config);
    this.id = options.id;
    this.#nowMs = options.nowMs;
    this.#random = options.random;
    this.#vivaldi = this.config.vivaldi
      ? new VivaldiClient(options.random.fork(), options.vivaldi)
      : undefined;
    this.#members = new Membership({
      id: options.id,
      metadata: options.metadata ?? {},
      config: this.config,
      random: options.random.fork(),
      nowMs: options.nowMs,
      hooks: {
        // Lifeguard: being suspected hints that *we* are slow; be more patient with others meanwhile.
        onRefute: () => {
          this.#adjustAwareness(1);
        },
        onForget: (id) => {
          this.#coordinates.delete(id);
          this.#vivaldi?.forget(id);
        },
      },
    });
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
    const members = this.#members.table.toWire();
    for (const seed of seeds) if (seed !== this.id) this.#send(seed, { t: 'sync', reply: false, members });
  }

  /** Announce a graceful leave. The core then only disseminates; see {@link leaveDisseminated}. */
  leave(nowMs: number): void {
    this.#enter(nowMs);
    if (this.#members.leaving) return;
    this.#members.leave();
    this.#gossipRound();
  }

  /** Replace this member's metadata and disseminate it (a new incarnation carries it). */
  updateMetadata(metadata: Metadata, nowMs: number): void {
    this.#enter(nowMs);
    this.#members.updateMetadata(metadata);
  }

  /** Handle a message from `from` (as authenticated by the transport). Malformed input is dropped. */
  receive(from: string, raw: unknown, nowMs: number): void {
    this.#enter(nowMs);
    const dimensions = this.#vivaldi?.dimensionality ?? 0;
    const message = parseMessage(raw, {
      maxUpdates: this.config.maxUpdatesPerMessage,
      maxMembers: this.config.maxMembers,
      maxMetadataKeys: this.config.maxMetadataKeys,
      dimensions,
    });
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
            up: this.#members.piggyback(this.#members.suspicionOf(from)),
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
    this.#members.expireSuspicions();
    const c = this.config;
    if (nowMs >= this.#nextProbeMs) {
      this.#nextProbeMs = nowMs + c.probeIntervalMs * (this.#awareness + 1);
      if (!this.#members.leaving) this.#startProbe();
    }
    if (nowMs >= this.#nextGossipMs) {
      this.#nextGossipMs = nowMs + c.gossipIntervalMs;
      this.#gossipRound();
    }
    if (nowMs >= this.#nextPushPullMs) {
      this.#nextPushPullMs = nowMs + pushPullScale(c.pushPullIntervalMs, this.#members.table.liveCount);
      if (c.pushPullIntervalMs > 0 && !this.#members.leaving) this.#syncWithRandom(isLive);
    }
    if (nowMs >= this.#nextReconnectMs) {
      this.#nextReconnectMs = nowMs + c.reconnectIntervalMs;
      if (c.reconnectIntervalMs > 0 && !this.#members.leaving)
        this.#syncWithRandom((m) => m.state === MemberState.Dead);
    }
    if (nowMs >= this.#nextReapMs) {
      this.#nextReapMs = nowMs + c.probeIntervalMs;
      this.#members.reap();
    }
  }

  // ---- outputs and queries ------------------------------------------------------------------

  /** Messages to send and events to deliver since the last call. */
  takeOutput(): { messages: Outgoing[]; events: GossipEvent[] } {
    const output = { messages: this.#outbox, events: this.#members.takeEvents() };
    this.#outbox = [];
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
    const suspicionMs = this.#members.nextSuspicionDeadlineMs();
    if (suspicionMs !== undefined) due = Math.min(due, suspicionMs);
    return due;
  }

  get incarnation(): number {
    return this.#members.self.incarnation;
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
    return this.#members.leaving && this.#members.queue.get(this.id) === undefined;
  }

  member(id: string): MemberInfo | undefined {
    const member = this.#members.table.get(id);
    return member === undefined ? undefined : snapshot(member);
  }

  /** Every known member, this one included, with failed and departed ones still remembered. */
  members(): MemberInfo[] {
    return Array.from(this.#members.table.values(), snapshot);
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
    for (const member of this.#members.table.values()) {
      if (member.id === id || member.state !== MemberState.Alive) continue;
      const rttMs = this.estimateRttMs(id, member.id);
      if (rttMs !== undefined) out.push({ id: member.id, rttMs });
    }
    return out.sort((x, y) => x.rttMs - y.rttMs || (x.id < y.id ? -1 : 1)).slice(0, k);
  }

  // ---- failure detection --------------------------------------------------------------------

  #startProbe(): void {
    const target = this.#members.table.nextProbeTarget();
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
    this.#send(target, {
      t: 'ping',
      seq,
      target,
      up: this.#members.piggyback(this.#members.suspicionOf(target)),
    });
  }

  #checkProbe(): void {
    const probe = this.#probe;
    if (probe === undefined) return;
    if (!probe.indirectSent && this.#nowMs >= probe.indirectAtMs) {
      probe.indirectSent = true;
      const helpers = this.#members.table.randomMembers(
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
    const member = this.#members.table.get(probe.target);
    if (member !== undefined && isLive(member)) {
      this.#members.applySuspect({ k: 'suspect', id: member.id, inc: member.incarnation, from: this.id });
    }
  }

  #onAck(from: string, seq: number, coord: Coordinate | null): void {
    const relay = this.#relays.get(seq);
    if (relay !== undefined) {
      this.#relays.delete(seq);
      this.#send(relay.requester, {
        t: 'ack',
        seq: relay.requesterSeq,
        coord: null,
        up: this.#members.piggyback(),
      });
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
    if (this.#members.leaving || this.#relays.size >= this.config.maxPendingRelays || target === this.id)
      return;
    const seq = ++this.#seq;
    this.#relays.set(seq, {
      requester: from,
      requesterSeq,
      deadlineMs: this.#nowMs + this.config.probeTimeoutMs,
    });
    this.#send(target, { t: 'ping', seq, target, up: this.#members.piggyback() });
  }

  #expireRelays(): void {
    // Relays share one timeout, so insertion order is deadline order.
    for (const [seq, relay] of this.#relays) {
      if (relay.deadlineMs > this.#nowMs) return;
      this.#relays.delete(seq);
      this.#send(relay.requester, { t: 'nack', seq: relay.requesterSeq });
    }
  }

  #adjustAwareness(delta: number): void {
    const max = this.config.awarenessMaxMultiplier - 1;
    this.#awareness = Math.min(max, Math.max(0, this.#awareness + delta));
  }

  // ---- dissemination ------------------------------------------------------------------------

  #gossipRound(): void {
    if (this.#members.queue.size === 0) return;
    const deadWindowMs = this.config.gossipToTheDeadMs;
    const targets = this.#members.table.randomMembers(
      this.config.gossipNodes,
      (m) => isLive(m) || (m.state === MemberState.Dead && this.#nowMs - m.stateChangeMs < deadWindowMs),
    );
    for (const target of targets) {
      const up = this.#members.piggyback();
      if (up.length === 0) return;
      this.#send(target.id, { t: 'gossip', up });
    }
  }

  #applyUpdates(from: string, updates: readonly Update[]): void {
    const corrections = this.#members.applyUpdates(updates);
    if (corrections !== undefined) this.#send(from, { t: 'gossip', up: corrections });
  }

  #syncWithRandom(accept: (member: Member) => boolean): void {
    const [peer] = this.#members.table.randomMembers(1, accept);
    if (peer !== undefined) {
      this.#send(peer.id, { t: 'sync', reply: false, members: this.#members.table.toWire() });
    }
  }

  #onSync(from: string, reply: boolean, rows: readonly WireMember[]): void {
    if (this.#members.leaving) return;
    if (reply) this.#syncReplies++;
    for (const row of rows) this.#members.mergeRow(row);
    if (!reply) this.#send(from, { t: 'sync', reply: true, members: this.#members.table.toWire() });
  }

  #send(to: string, message: GossipMessage): void {
    this.#outbox.push({ to, message });
  }

  #enter(nowMs: number): void {
    if (nowMs > this.#nowMs) this.#nowMs = nowMs;
    this.#members.at(this.#nowMs);
  }
}

/** memberlist's pushPullScale: above 32 members, sync less often (log2 of the excess). */
function pushPullScale(intervalMs: number, members: number): number {
  const threshold = 32;
  if (members <= threshold) return intervalMs;
  return intervalMs * (Math.ceil(Math.log2(members) - Math.log2(threshold)) + 1);
}
