/** Stable error codes of skein/membership (never renamed once released). */
export const MembershipErrorCode = {
  /** A leave named a member that is not in the group (bloc answered 500; the group is untouched). */
  NotMember: 'SKEIN_MEMBERSHIP_NOT_MEMBER',
  /** A join asked for a strategy other than the one the group was created with. */
  StrategyMismatch: 'SKEIN_MEMBERSHIP_STRATEGY_MISMATCH',
  /** A join asked for a settle period other than the one the group was created with. */
  SettleMismatch: 'SKEIN_MEMBERSHIP_SETTLE_MISMATCH',
  /** A read named a group that has no members (groups exist only while they have members). */
  GroupNotFound: 'SKEIN_MEMBERSHIP_GROUP_NOT_FOUND',
  /** A join named a session (lease) that does not exist. */
  SessionNotFound: 'SKEIN_MEMBERSHIP_SESSION_NOT_FOUND',
  /** A group or the machine is full (see {@link MembershipLimits}). */
  LimitExceeded: 'SKEIN_MEMBERSHIP_LIMIT_EXCEEDED',
  /** A command or snapshot is malformed. */
  InvalidCommand: 'SKEIN_MEMBERSHIP_INVALID_COMMAND',
} as const;
export type MembershipErrorCode = (typeof MembershipErrorCode)[keyof typeof MembershipErrorCode];
