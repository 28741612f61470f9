/**
 * skein/membership: groups whose members get an index 1..total once the group has gone a
 * settle period without a join or leave — bloc's model, replicated. This module is the
 * deterministic part only: the replicated {@link GroupMachine}, the leader's {@link SettleClock},
 * the assignment strategies and the {@link ownerIndex} hash. See docs/membership.md.
 * @packageDocumentation
 */
export {
  assign,
  countMoves,
  byJoinOrder,
  isAssignmentStrategy,
  AssignmentStrategy,
  DEFAULT_STRATEGY,
  type AssignableMember,
} from './assignment.ts';
export {
  GroupState,
  type MemberMetadata,
  type MembershipCommand,
  type JoinCommand,
  type LeaveCommand,
  type SessionExpiredCommand,
  type SettleCommand,
  DEFAULT_SETTLE_MS,
  MAX_SETTLE_MS,
} from './commands.ts';
export { MembershipErrorCode } from './errors.ts';
export {
  GroupMachine,
  DEFAULT_MEMBERSHIP_LIMITS,
  type MembershipLimits,
  type ApplyResult,
  type GroupChange,
  type GroupView,
  type MemberView,
  type MemberPlace,
} from './group-machine.ts';
export { SettleClock, type SettleClockOptions, type SettlingGroup } from './settle-clock.ts';
export { snapshotGroups, restoreGroups } from './snapshot.ts';
export { ownerIndex, owns } from './hash.ts';
export type { GroupJoinRequest, MemberStatus, GroupSummary } from './wire.ts';
export {
  joinGroup,
  GroupMember,
  type JoinGroupOptions,
  type GroupCoordinator,
  type IndexTotal,
  type GroupMemberEvents,
} from './member.ts';
