import { assign, byJoinOrder, DEFAULT_STRATEGY, type AssignmentStrategy } from './assignment.ts';
import {
  commandProblem,
  DEFAULT_SETTLE_MS,
  GroupState,
  metadataSize,
  type JoinCommand,
  type MemberMetadata,
  type MembershipCommand,
} from './commands.ts';
import { MembershipErrorCode } from './errors.ts';
import type { GroupSummary } from './wire.ts';

/** Bounds on what the replicated state may hold; every replica must use the same values. */
export interface MembershipLimits {
  readonly maxGroups: number;
  readonly maxMembersPerGroup: number;
  /** Longest group name or member id, in UTF-16 code units. */
  readonly maxNameLength: number;
  /** Largest metadata of one member (keys + values, UTF-16 code units). */
  readonly maxMetadataSize: number;
}

export const DEFAULT_MEMBERSHIP_LIMITS: MembershipLimits = {
  maxGroups: 10_000,
  maxMembersPerGroup: 1_000,
  maxNameLength: 256,
  maxMetadataSize: 4_096,
};

/** One member as the machine stores it. */
export interface MemberRecord {
  readonly id: string;
  readonly session: number;
  readonly joinSeq: number;
  readonly weight: number | undefined;
  readonly metadata: MemberMetadata;
}

/** One group as the machine stores it (exposed read-only to the snapshot codec). */
export interface GroupRecord {
  readonly name: string;
  readonly strategy: AssignmentStrategy;
  /** How long the group must stay unchanged before it settles. */
  readonly settleMs: number;
  state: GroupState;
  /** Taken from the machine-wide counter at each settle: strictly increasing, never reused. */
  generation: number;
  /** Taken from the machine-wide counter at each change; a settle must carry the current one. */
  changeSeq: number;
  readonly members: Map<string, MemberRecord>;
  /** The last settled assignment (may name departed members while SETTLING: sticky needs them). */
  assignment: Map<string, number> | null;
}

/** What a command did to one group; the leader's {@link SettleClock} consumes these. */
export interface GroupChange {
  readonly group: string;
  /** The group's state after the command, or `'DELETED'` when its last member left. */
  readonly state: GroupState | 'DELETED';
  readonly changeSeq: number;
  readonly generation: number;
  /** The group's settle period (what the leader's clock waits after a SETTLING change). */
  readonly settleMs: number;
}

export type ApplyResult =
  | { readonly ok: true; readonly changes: readonly GroupChange[] }
  | { readonly ok: false; readonly code: MembershipErrorCode; readonly message: string };

/** A member as a read shows it. `index` is set only while the group is SETTLED. */
export interface MemberView {
  readonly id: string;
  readonly session: number;
  readonly joinSeq: number;
  readonly weight: number | undefined;
  readonly metadata: MemberMetadata;
  readonly index: number | null;
}

/** A group as a read shows it; members in join order. `total` is set only while SETTLED. */
export interface GroupView {
  readonly name: string;
  readonly strategy: AssignmentStrategy;
  readonly settleMs: number;
  readonly state: GroupState;
  /** The generation of the last settle (0 before the first): a fencing token for work done under it. */
  readonly generation: number;
  readonly changeSeq: number;
  readonly total: number | null;
  readonly members: readonly MemberView[];
}

/** A member's place, as {@link GroupMachine.placeOf} reports it. */
export interface MemberPlace {
  readonly session: number;
  readonly state: GroupState;
  /** 1..total while SETTLED, else null. */
  readonly index: number | null;
  readonly total: number | null;
  readonly generation: number;
  /** The group's settle period: members must heartbeat more often than this (see docs/membership.md). */
  readonly settleMs: number;
}

/** The counters and groups that make up the machine's state (what a snapshot holds). */
export interface MachineState {
  nextChangeSeq: number;
  nextGeneration: number;
  readonly groups: Map<string, GroupRecord>;
}

function fail(code: MembershipErrorCode, message: string): ApplyResult {
  return { ok: false, code, message };
}

/**
 * The replicated state of every group: a deterministic machine with no clock. Joins, leaves and
 * session expiries make a group SETTLING; only a `settle` command (decided by the leader's
 * {@link SettleClock} and replicated like any other) makes it SETTLED, numbers its members and
 * bumps its generation. Because time never enters `apply`, a new leader inherits every group
 * exactly as it was, and a SETTLED group is only renumbered after its membership changes.
 */
export class GroupMachine {
  readonly #limits: MembershipLimits;
  readonly #state: MachineState;
  /** session → group → member ids bound to it (derived; rebuilt on restore). */
  readonly #sessions = new Map<number, Map<string, Set<string>>>();

  constructor(limits: MembershipLimits = DEFAULT_MEMBERSHIP_LIMITS, state?: MachineState) {
    this.#limits = limits;
    this.#state = state ?? { nextChangeSeq: 1, nextGeneration: 1, groups: new Map() };
    for (const group of this.#state.groups.values()) {
      for (const member of group.members.values()) this.#bind(member.session, group.name, member.id);
    }
  }

  /** The raw state, for the snapshot codec. Do not mutate. */
  get state(): Readonly<MachineState> {
    return this.#state;
  }

  get limits(): MembershipLimits {
    return this.#limits;
  }

  /** Applies one committed command. Deterministic: same state + command ⇒ same result everywhere. */
  apply(command: MembershipCommand): ApplyResult {
    const problem = commandProblem(command, this.#limits.maxNameLength);
    if (problem !== null)
      return fail(MembershipErrorCode.InvalidCommand, `malformed membership command: ${problem}`);
    switch (command.type) {
      case 'join':
        return this.#join(command);
      case 'leave': {
        const group = this.#state.groups.get(command.group);
        if (group?.members.has(command.member) !== true) {
          return fail(
            MembershipErrorCode.NotMember,
            `${command.member} is not a member of group ${command.group}; nothing to leave`,
          );
        }
        return { ok: true, changes: [this.#remove(group, command.member)] };
      }
      case 'session-expired':
        return { ok: true, changes: this.#expire(command.session) };
      case 'settle':
        return { ok: true, changes: this.#settle(command.group, command.changeSeq) };
    }
  }

  /** The group named `name`, or null when it has no members. */
  group(name: string): GroupView | null {
    const group = this.#state.groups.get(name);
    if (group === undefined) return null;
    const settled = group.state === GroupState.Settled;
    const members = [...group.members.values()].sort(byJoinOrder).map((m): MemberView => ({
      id: m.id,
      session: m.session,
      joinSeq: m.joinSeq,
      weight: m.weight,
      metadata: m.metadata,
      index: settled ? (group.assignment?.get(m.id) ?? null) : null,
    }));
    return {
      name: group.name,
      strategy: group.strategy,
      settleMs: group.settleMs,
      state: group.state,
      generation: group.generation,
      changeSeq: group.changeSeq,
      total: settled ? members.length : null,
      members,
    };
  }

  /**
   * One member's place in its group, without building the group's view (a heartbeat asks this of
   * a 1,000-member group a thousand times a second). Null when `memberId` is not in `groupName`.
   */
  placeOf(groupName: string, memberId: string): MemberPlace | null {
    const group = this.#state.groups.get(groupName);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return null;
    const settled = group.state === GroupState.Settled;
    return {
      session: member.session,
      state: group.state,
      index: settled ? (group.assignment?.get(memberId) ?? null) : null,
      total: settled ? group.members.size : null,
      generation: group.generation,
      settleMs: group.settleMs,
    };
  }

  /** Every group without its members (no member views built): what a list shows. In creation order. */
  summaries(): GroupSummary[] {
    return [...this.#state.groups.values()].map((g) => ({
      name: g.name,
      state: g.state,
      generation: g.generation,
      size: g.members.size,
      strategy: g.strategy,
      settleMs: g.settleMs,
    }));
  }

  /** Names of all groups, in creation order. */
  groupNames(): string[] {
    return [...this.#state.groups.keys()];
  }

  /** The SETTLING groups and the change each waits on: what a new leader's clock starts from. */
  settlingGroups(): { group: string; changeSeq: number; settleMs: number }[] {
    const out: { group: string; changeSeq: number; settleMs: number }[] = [];
    for (const g of this.#state.groups.values()) {
      if (g.state === GroupState.Settling)
        out.push({ group: g.name, changeSeq: g.changeSeq, settleMs: g.settleMs });
    }
    return out;
  }

  #join(command: JoinCommand): ApplyResult {
    const limits = this.#limits;
    const metadata = command.metadata ?? {};
    if (metadataSize(metadata) > limits.maxMetadataSize) {
      return fail(
        MembershipErrorCode.LimitExceeded,
        `metadata of ${command.member} exceeds ${limits.maxMetadataSize} chars; publish less (e.g. an address)`,
      );
    }
    let group = this.#state.groups.get(command.group);
    if (group !== undefined && command.strategy !== undefined && command.strategy !== group.strategy) {
      return fail(
        MembershipErrorCode.StrategyMismatch,
        `group ${command.group} uses ${group.strategy}, not ${command.strategy}; join without a strategy or use another group`,
      );
    }
    if (group !== undefined && command.settleMs !== undefined && command.settleMs !== group.settleMs) {
      return fail(
        MembershipErrorCode.SettleMismatch,
        `group ${command.group} settles after ${group.settleMs} ms, not ${command.settleMs}; join without settleMs or use another group`,
      );
    }
    const settleMs = group?.settleMs ?? command.settleMs ?? DEFAULT_SETTLE_MS;
    if (command.heartbeatIntervalMs !== undefined && command.heartbeatIntervalMs > settleMs) {
      return fail(
        MembershipErrorCode.SettleMismatch,
        `group ${command.group} settles after ${settleMs} ms, sooner than ${command.member}'s heartbeat interval ` +
          `(${command.heartbeatIntervalMs} ms): heartbeat at least as often as the group settles`,
      );
    }
    const existing = group?.members.get(command.member);
    if (existing?.session === command.session) return { ok: true, changes: [] };
    if (group === undefined) {
      if (this.#state.groups.size >= limits.maxGroups) {
        return fail(
          MembershipErrorCode.LimitExceeded,
          `at most ${limits.maxGroups} groups; remove unused groups`,
        );
      }
      group = {
        name: command.group,
        strategy: command.strategy ?? DEFAULT_STRATEGY,
        settleMs: command.settleMs ?? DEFAULT_SETTLE_MS,
        state: GroupState.Settling,
        generation: 0,
        changeSeq: 0,
        members: new Map(),
        assignment: null,
      };
      this.#state.groups.set(group.name, group);
    } else if (existing === undefined && group.members.size >= limits.maxMembersPerGroup) {
      return fail(
        MembershipErrorCode.LimitExceeded,
        `group ${command.group} already has ${limits.maxMembersPerGroup} members`,
      );
    }
    // A member rebinding to another session is a new process under an old name: the old one may
    // still act on its index, so this is a change (new settle, new generation), never a handover.
    if (existing !== undefined) this.#unbind(existing.session, group.name, existing.id);
    group.members.set(command.member, {
      id: command.member,
      session: command.session,
      joinSeq: command.joinSeq ?? this.#state.nextChangeSeq, // the changeSeq #changed gives it below
      weight: command.weight,
      metadata,
    });
    this.#bind(command.session, group.name, command.member);
    return { ok: true, changes: [this.#changed(group)] };
  }

  #remove(group: GroupRecord, memberId: string): GroupChange {
    const member = group.members.get(memberId);
    if (member !== undefined) this.#unbind(member.session, group.name, memberId);
    group.members.delete(memberId);
    if (group.members.size === 0) {
      this.#state.groups.delete(group.name);
      return {
        group: group.name,
        state: 'DELETED',
        changeSeq: group.changeSeq,
        generation: group.generation,
        settleMs: group.settleMs,
      };
    }
    return this.#changed(group);
  }

  #expire(session: number): GroupChange[] {
    const bound = this.#sessions.get(session);
    if (bound === undefined) return [];
    const changes: GroupChange[] = [];
    // Visit groups in name order, not binding order: the binding index is rebuilt in another order
    // on restore, and the order decides which group gets which changeSeq.
    for (const groupName of [...bound.keys()].sort()) {
      const memberIds = bound.get(groupName);
      const group = this.#state.groups.get(groupName);
      if (group === undefined || memberIds === undefined) continue;
      let last: GroupChange | undefined;
      for (const id of [...memberIds]) last = this.#remove(group, id);
      if (last !== undefined) changes.push(last);
    }
    return changes;
  }

  #settle(name: string, changeSeq: number): GroupChange[] {
    const group = this.#state.groups.get(name);
    if (group === undefined || group.state !== GroupState.Settling || group.changeSeq !== changeSeq)
      return [];
    const members = [...group.members.values()];
    group.assignment = assign(group.strategy, group.assignment, members);
    group.generation = this.#state.nextGeneration++;
    group.state = GroupState.Settled;
    return [
      {
        group: name,
        state: group.state,
        changeSeq: group.changeSeq,
        generation: group.generation,
        settleMs: group.settleMs,
      },
    ];
  }

  #changed(group: GroupRecord): GroupChange {
    group.changeSeq = this.#state.nextChangeSeq++;
    group.state = GroupState.Settling;
    return {
      group: group.name,
      state: group.state,
      changeSeq: group.changeSeq,
      generation: group.generation,
      settleMs: group.settleMs,
    };
  }

  #bind(session: number, group: string, member: string): void {
    let groups = this.#sessions.get(session);
    if (groups === undefined) this.#sessions.set(session, (groups = new Map<string, Set<string>>()));
    let members = groups.get(group);
    if (members === undefined) groups.set(group, (members = new Set<string>()));
    members.add(member);
  }

  #unbind(session: number, group: string, member: string): void {
    const groups = this.#sessions.get(session);
    const members = groups?.get(group);
    if (groups === undefined || members === undefined) return;
    members.delete(member);
    if (members.size === 0) groups.delete(group);
    if (groups.size === 0) this.#sessions.delete(session);
  }
}
