import { decode, encode } from '../core/codec.ts';
import { SkeinError } from '../core/errors.ts';
import { isAssignmentStrategy } from './assignment.ts';
import { GroupState, isSeq, MAX_SETTLE_MS } from './commands.ts';
import { MembershipErrorCode } from './errors.ts';
import {
  DEFAULT_MEMBERSHIP_LIMITS,
  GroupMachine,
  type GroupRecord,
  type MachineState,
  type MemberRecord,
  type MembershipLimits,
} from './group-machine.ts';

/*
 * Snapshot layout (msgpack, arrays for compactness, readable from any language):
 *   ['skein-membership', 1, nextChangeSeq, nextGeneration, groups]
 *   group  = [name, strategy, state, generation, changeSeq, members, assignment | nil, settleMs]
 *   member = [id, session, joinSeq, weight | nil, metadata map]
 *   assignment = [[memberId, index], ...]   (the last settle's; may name departed members)
 * Groups and members keep their order, so a restored machine iterates exactly like the original.
 */
const FORMAT = 'skein-membership';
const VERSION = 1;

/** Encodes the machine's whole state. */
export function snapshotGroups(machine: GroupMachine): Uint8Array {
  const s = machine.state;
  const groups = [...s.groups.values()].map((g) => [
    g.name,
    g.strategy,
    g.state,
    g.generation,
    g.changeSeq,
    [...g.members.values()].map((m) => [m.id, m.session, m.joinSeq, m.weight ?? null, m.metadata]),
    g.assignment === null ? null : [...g.assignment],
    g.settleMs,
  ]);
  // A copy: msgpackr hands back a view of its reusable buffer (with extra properties attached).
  return new Uint8Array(encode([FORMAT, VERSION, s.nextChangeSeq, s.nextGeneration, groups]));
}

function bad(what: string): SkeinError {
  return new SkeinError(MembershipErrorCode.InvalidCommand, `membership snapshot is corrupt: ${what}`);
}

function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw bad(`${what} is not an array`);
  return value as unknown[];
}

function seq(value: unknown, what: string): number {
  if (!isSeq(value)) throw bad(`${what} is not a non-negative integer`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw bad(`${what} is not a string`);
  return value;
}

function readMember(raw: unknown): MemberRecord {
  const [id, session, joinSeq, weight, metadata] = array(raw, 'a member');
  if (weight !== null && (typeof weight !== 'number' || !(weight > 0))) throw bad('a weight is not positive');
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw bad('metadata');
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) meta[k] = text(v, 'a metadata value');
  return {
    id: text(id, 'a member id'),
    session: seq(session, 'a session'),
    joinSeq: seq(joinSeq, 'a joinSeq'),
    weight: weight ?? undefined,
    metadata: meta,
  };
}

function readGroup(raw: unknown): GroupRecord {
  const [name, strategy, state, generation, changeSeq, members, assignment, settleMs] = array(raw, 'a group');
  if (!isSeq(settleMs) || settleMs > MAX_SETTLE_MS) throw bad('a settle period');
  if (!isAssignmentStrategy(strategy)) throw bad('a strategy');
  if (state !== GroupState.Settled && state !== GroupState.Settling) throw bad('a group state');
  const memberMap = new Map<string, MemberRecord>();
  for (const m of array(members, 'members')) {
    const member = readMember(m);
    memberMap.set(member.id, member);
  }
  if (memberMap.size === 0) throw bad(`group ${String(name)} has no members`);
  let assigned: Map<string, number> | null = null;
  if (assignment !== null) {
    assigned = new Map();
    for (const pair of array(assignment, 'an assignment')) {
      const [id, index] = array(pair, 'an assignment entry');
      assigned.set(text(id, 'an assigned id'), seq(index, 'an index'));
    }
  }
  if (state === GroupState.Settled && [...memberMap.keys()].some((id) => assigned?.has(id) !== true)) {
    throw bad(`settled group ${String(name)} has a member without an index`);
  }
  return {
    name: text(name, 'a group name'),
    strategy,
    settleMs,
    state,
    generation: seq(generation, 'a generation'),
    changeSeq: seq(changeSeq, 'a changeSeq'),
    members: memberMap,
    assignment: assigned,
  };
}

/**
 * Rebuilds a machine from {@link snapshotGroups}' bytes. `limits` must be the cluster's (they are
 * not part of the snapshot, like any configuration).
 * @throws SkeinError `SKEIN_DECODE_FAILED` (not msgpack) or `SKEIN_MEMBERSHIP_INVALID_COMMAND` (wrong shape).
 */
export function restoreGroups(
  bytes: Uint8Array,
  limits: MembershipLimits = DEFAULT_MEMBERSHIP_LIMITS,
): GroupMachine {
  const [format, version, nextChangeSeq, nextGeneration, groups] = array(decode(bytes), 'the snapshot');
  if (format !== FORMAT) throw bad(`format is ${String(format)}, expected ${FORMAT}`);
  if (version !== VERSION)
    throw bad(`version ${String(version)} is not supported (this build reads ${VERSION})`);
  const state: MachineState = {
    nextChangeSeq: seq(nextChangeSeq, 'nextChangeSeq'),
    nextGeneration: seq(nextGeneration, 'nextGeneration'),
    groups: new Map(),
  };
  for (const raw of array(groups, 'groups')) {
    const group = readGroup(raw);
    state.groups.set(group.name, group);
  }
  return new GroupMachine(limits, state);
}
