/**
 * What must hold for the members of a group at every instant of a simulation, checked on what
 * user code sees (`GroupMember.indexTotal()`): after every assignment a member gains and at a fine
 * period of virtual time.
 */
import type { TimerHandle } from '../core/clock.ts';
import type { GroupMember, IndexTotal } from '../membership/member.ts';
import type { GroupsCluster } from './groups-sim-harness.ts';

/** Options of {@link GroupWatch}. */
export interface GroupWatchOptions {
  /** Period of the virtual-time probe. Default 5 ms. */
  readonly probeMs?: number;
}

/**
 * Checks, across all watched members (each a process acting on its assignment):
 * - no two members hold the same index at the same time — in any generations, so a stale member
 *   is fenced by time, not only by its generation;
 * - at most one generation is in force at any instant;
 * - a member's (index, total) under a generation never changes, and the generations a member
 *   holds only grow;
 * - every assignment a member holds is the one the replicas committed for that generation.
 * The first violation is kept in {@link failure} (with the virtual time); {@link assertOk} throws it.
 */
export class GroupWatch {
  readonly #cluster: GroupsCluster;
  readonly #probeMs: number;
  readonly #members = new Set<GroupMember>();
  /** member → generation → what it held under it. */
  readonly #held = new Map<GroupMember, Map<number, IndexTotal>>();
  readonly #lastGeneration = new Map<GroupMember, number>();
  #timer: TimerHandle | null = null;
  #failure: string | null = null;
  /** Instants checked (a test can assert the watch actually ran). */
  checks = 0;

  constructor(cluster: GroupsCluster, options: GroupWatchOptions = {}) {
    this.#cluster = cluster;
    this.#probeMs = options.probeMs ?? 5;
  }

  get failure(): string | null {
    return this.#failure;
  }

  /** Watch `member` from now on (a re-joined incarnation is a new member object). */
  add(member: GroupMember): void {
    this.#members.add(member);
    this.#held.set(member, new Map());
    member.on('settled', () => {
      this.check();
    });
    this.check();
  }

  /** Start the periodic probe on the simulation's clock. */
  start(): void {
    const clock = this.#cluster.clock;
    const probe = (): void => {
      this.check();
      this.#timer = clock.setTimeout(probe, this.#probeMs);
    };
    this.#timer = clock.setTimeout(probe, this.#probeMs);
  }

  stop(): void {
    if (this.#timer !== null) this.#cluster.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  assertOk(): void {
    const problem = this.#failure ?? this.#cluster.violations[0] ?? null;
    if (problem !== null) throw new Error(problem);
  }

  /** Check every invariant at the current instant. */
  check(): void {
    if (this.#failure !== null) return;
    this.checks++;
    const nowMs = this.#cluster.clock.now();
    const byIndex = new Map<number, GroupMember>();
    let generation: number | null = null;
    for (const member of this.#members) {
      const it = member.indexTotal();
      if (it === null) continue;
      const problem =
        this.#checkMember(member, it) ??
        this.#checkCommitted(member, it) ??
        (byIndex.has(it.index)
          ? `${member.id} and ${byIndex.get(it.index)!.id} both hold index ${it.index}`
          : null) ??
        (generation !== null && generation !== it.generation
          ? `generations ${generation} and ${it.generation} are both in force (${member.id})`
          : null);
      if (problem !== null) {
        this.#failure = `at ${nowMs} ms: ${problem}; views: ${this.#describe()}`;
        return;
      }
      byIndex.set(it.index, member);
      generation = it.generation;
    }
  }

  #checkMember(member: GroupMember, it: IndexTotal): string | null {
    const held = this.#held.get(member)!;
    const before = held.get(it.generation);
    if (before !== undefined && (before.index !== it.index || before.total !== it.total)) {
      return `${member.id} held ${before.index}/${before.total} and now ${it.index}/${it.total} in generation ${it.generation}`;
    }
    const last = this.#lastGeneration.get(member) ?? 0;
    if (it.generation < last) return `${member.id} went back from generation ${last} to ${it.generation}`;
    held.set(it.generation, it);
    this.#lastGeneration.set(member, it.generation);
    return null;
  }

  #checkCommitted(member: GroupMember, it: IndexTotal): string | null {
    const settle = this.#cluster.settles.get(it.generation);
    if (settle === undefined)
      return `${member.id} holds generation ${it.generation}, which no replica settled`;
    if (settle.group !== member.group) return `generation ${it.generation} belongs to ${settle.group}`;
    const committed = settle.assignment.get(member.id);
    if (committed !== it.index || settle.total !== it.total) {
      return `${member.id} holds ${it.index}/${it.total} in generation ${it.generation}, committed ${String(committed)}/${settle.total}`;
    }
    return null;
  }

  #describe(): string {
    return [...this.#members]
      .map((m) => {
        const it = m.indexTotal();
        return `${m.id}=${it === null ? '-' : `${it.index}/${it.total}@${it.generation}`}`;
      })
      .join(' ');
  }
}
