import type { Random } from '../core/random.ts';
import { MemberState, type Metadata, type WireMember } from './messages.ts';
import type { Suspicion } from './suspicion.ts';

/** What one node knows about one member. Mutable inside the protocol core only. */
export interface Member {
  readonly id: string;
  incarnation: number;
  state: MemberState;
  metadata: Metadata;
  /** Local time the member entered its current state. */
  stateChangeMs: number;
  suspicion: Suspicion | undefined;
}

/** A read-only snapshot of a member, as the public API and events hand it out. */
export interface MemberInfo {
  readonly id: string;
  readonly state: MemberState;
  readonly incarnation: number;
  readonly metadata: Metadata;
  readonly stateChangeMs: number;
}

export function snapshot(member: Member): MemberInfo {
  return {
    id: member.id,
    state: member.state,
    incarnation: member.incarnation,
    metadata: member.metadata,
    stateChangeMs: member.stateChangeMs,
  };
}

export function isLive(member: Member): boolean {
  return member.state === MemberState.Alive || member.state === MemberState.Suspect;
}

/**
 * The member table: every member this node knows, including itself and (for a while) failed and
 * departed ones, plus SWIM's round-robin probe order — a shuffled list walked in turn, so that
 * every live member is probed within one round (bounded detection time, unlike random choice).
 */
export class MemberTable {
  readonly #members = new Map<string, Member>();
  readonly #random: Random;
  readonly #selfId: string;
  #probeOrder: string[] = [];
  #probeIndex = 0;
  #liveCount = 0;
  /** Scratch buffer for random selection, reused to keep the hot path allocation-light. */
  readonly #candidates: Member[] = [];

  constructor(selfId: string, random: Random) {
    this.#selfId = selfId;
    this.#random = random;
  }

  get size(): number {
    return this.#members.size;
  }

  /** Alive or suspect members, this node included. */
  get liveCount(): number {
    return this.#liveCount;
  }

  get(id: string): Member | undefined {
    return this.#members.get(id);
  }

  values(): IterableIterator<Member> {
    return this.#members.values();
  }

  add(member: Member): void {
    this.#members.set(member.id, member);
    if (isLive(member)) {
      this.#liveCount++;
      if (member.id !== this.#selfId) this.#insertIntoProbeOrder(member.id);
    }
  }

  /** Change a member's state, keeping the live count and probe order right. */
  setState(member: Member, state: MemberState, nowMs: number): void {
    const wasLive = isLive(member);
    if (member.state !== state) member.stateChangeMs = nowMs;
    member.state = state;
    const live = isLive(member);
    if (wasLive && !live) this.#liveCount--;
    if (!wasLive && live) {
      this.#liveCount++;
      this.#insertIntoProbeOrder(member.id);
    }
  }

  remove(id: string): void {
    const member = this.#members.get(id);
    if (member === undefined) return;
    if (isLive(member)) this.#liveCount--;
    this.#members.delete(id);
  }

  /** The next member to probe in round-robin order, or undefined when there is none. */
  nextProbeTarget(): string | undefined {
    for (let attempts = 0; attempts <= this.#probeOrder.length + 1; attempts++) {
      if (this.#probeIndex >= this.#probeOrder.length) this.#rebuildProbeOrder();
      const id = this.#probeOrder[this.#probeIndex++];
      if (id === undefined) return undefined;
      const member = this.#members.get(id);
      if (member !== undefined && isLive(member)) return id;
    }
    return undefined;
  }

  /** Up to `k` distinct random members other than this node that satisfy `accept`. */
  randomMembers(k: number, accept: (member: Member) => boolean): Member[] {
    const candidates = this.#candidates;
    candidates.length = 0;
    for (const member of this.#members.values()) {
      if (member.id !== this.#selfId && accept(member)) candidates.push(member);
    }
    const picked: Member[] = [];
    const n = candidates.length;
    for (let i = 0; i < n && picked.length < k; i++) {
      const j = i + this.#random.int(n - i);
      const chosen = candidates[j]!;
      candidates[j] = candidates[i]!;
      candidates[i] = chosen;
      picked.push(chosen);
    }
    candidates.length = 0;
    return picked;
  }

  /** The whole table as sync rows (bounded by the table's own bound). */
  toWire(): WireMember[] {
    const rows: WireMember[] = [];
    for (const m of this.#members.values()) {
      rows.push({ id: m.id, inc: m.incarnation, st: m.state, meta: m.metadata });
    }
    return rows;
  }

  /** The failed or departed member that has been so the longest (eviction candidate), if any. */
  oldestGone(): Member | undefined {
    let oldest: Member | undefined;
    for (const m of this.#members.values()) {
      if (!isLive(m) && (oldest === undefined || m.stateChangeMs < oldest.stateChangeMs)) oldest = m;
    }
    return oldest;
  }

  #rebuildProbeOrder(): void {
    const order = this.#probeOrder;
    order.length = 0;
    for (const m of this.#members.values()) {
      if (m.id !== this.#selfId && isLive(m)) order.push(m.id);
    }
    this.#random.shuffle(order);
    this.#probeIndex = 0;
  }

  /** New and revived members go to a random place among those not yet probed this round. */
  #insertIntoProbeOrder(id: string): void {
    const remaining = this.#probeOrder.length - this.#probeIndex;
    const at = this.#probeIndex + this.#random.int(remaining + 1);
    this.#probeOrder.splice(at, 0, id);
  }
}
