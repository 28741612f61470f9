import { isAssignmentStrategy, type AssignmentStrategy } from './assignment.ts';

/** The two states of a group (bloc's): members only act on an index while the group is SETTLED. */
export const GroupState = {
  /** Membership changed less than the settle period ago; nobody has an index. */
  Settling: 'SETTLING',
  /** Every member has an index 1..total under the group's current generation. */
  Settled: 'SETTLED',
} as const;
export type GroupState = (typeof GroupState)[keyof typeof GroupState];

/** Opaque string pairs a member publishes with its join (e.g. its address). */
export type MemberMetadata = Readonly<Record<string, string>>;

/**
 * `member` joins `group`, bound to `session` (a lease id: keepalive is the heartbeat, revoke is a
 * leave, expiry is `session-expired`). A join by a member already bound to the same session
 * changes nothing, so a repeated join never disturbs a settled group.
 */
export interface JoinCommand {
  readonly type: 'join';
  readonly group: string;
  readonly member: string;
  readonly session: number;
  /**
   * Position in the join order. Omit it (as the server does) to use the change sequence number
   * the join receives, which orders joins exactly as the log applied them.
   */
  readonly joinSeq?: number;
  readonly metadata?: MemberMetadata;
  /** Positive weight, published to the group; it does not affect index assignment. */
  readonly weight?: number;
  /** The group's strategy; fixed by the join that creates the group (default sticky). */
  readonly strategy?: AssignmentStrategy;
  /**
   * How long the group must go without a join or leave before it settles (bloc's `-s`); fixed by
   * the join that creates the group (default {@link DEFAULT_SETTLE_MS}).
   */
  readonly settleMs?: number;
  /**
   * The joining member's heartbeat interval, if it wants the join refused when the group settles
   * sooner: such a member could still act on its old index when the others have settled without
   * it. Checked, not stored.
   */
  readonly heartbeatIntervalMs?: number;
}

/** Settle period of a group whose creator named none. */
export const DEFAULT_SETTLE_MS = 5_000;
/** Longest settle period a group may ask for (one hour). */
export const MAX_SETTLE_MS = 3_600_000;

/** `member` leaves `group` (fails with SKEIN_MEMBERSHIP_NOT_MEMBER when it is not in it). */
export interface LeaveCommand {
  readonly type: 'leave';
  readonly group: string;
  readonly member: string;
}

/** Every member bound to `session` leaves its group (the lease expired or was revoked). */
export interface SessionExpiredCommand {
  readonly type: 'session-expired';
  readonly session: number;
}

/**
 * Decided by the leader's {@link SettleClock}: settle `group` if it has not changed since
 * `changeSeq`. A settle decided before a later change (by an old leader, or raced by a join) is
 * a no-op, because the group's `changeSeq` no longer matches.
 */
export interface SettleCommand {
  readonly type: 'settle';
  readonly group: string;
  readonly changeSeq: number;
}

export type MembershipCommand = JoinCommand | LeaveCommand | SessionExpiredCommand | SettleCommand;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isName(value: unknown, maxLength: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= maxLength;
}

/** A lease id or join sequence: a non-negative safe integer. */
export function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Size of metadata in UTF-16 code units (keys + values), which the limits bound. */
export function metadataSize(metadata: MemberMetadata): number {
  let size = 0;
  for (const [key, value] of Object.entries(metadata)) size += key.length + value.length;
  return size;
}

function isMetadata(value: unknown): value is MemberMetadata {
  return isRecord(value) && Object.values(value).every((v) => typeof v === 'string');
}

/**
 * Why `command` is malformed, or null when it is well formed. The state machine re-checks every
 * command because a log entry may come from a newer or buggy proposer; a malformed one is
 * rejected identically on every replica.
 */
export function commandProblem(command: unknown, maxNameLength: number): string | null {
  if (!isRecord(command)) return 'a command must be an object';
  switch (command['type']) {
    case 'join': {
      if (!isName(command['group'], maxNameLength))
        return `group must be a string of 1..${maxNameLength} chars`;
      if (!isName(command['member'], maxNameLength))
        return `member must be a string of 1..${maxNameLength} chars`;
      if (!isSeq(command['session'])) return 'session must be a lease id (a non-negative integer)';
      if (command['joinSeq'] !== undefined && !isSeq(command['joinSeq']))
        return 'joinSeq must be a non-negative integer';
      const { metadata, weight, strategy, settleMs } = command;
      if (metadata !== undefined && !isMetadata(metadata)) return 'metadata must map strings to strings';
      if (weight !== undefined && !(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) {
        return 'weight must be a positive finite number';
      }
      if (strategy !== undefined && !isAssignmentStrategy(strategy))
        return 'strategy must be sticky or join-order';
      if (settleMs !== undefined && !(isSeq(settleMs) && settleMs <= MAX_SETTLE_MS))
        return `settleMs must be an integer number of ms in 0..${MAX_SETTLE_MS}`;
      const interval = command['heartbeatIntervalMs'];
      if (interval !== undefined && !(isSeq(interval) && interval <= MAX_SETTLE_MS))
        return `heartbeatIntervalMs must be an integer number of ms in 0..${MAX_SETTLE_MS}`;
      return null;
    }
    case 'leave':
      if (!isName(command['group'], maxNameLength))
        return `group must be a string of 1..${maxNameLength} chars`;
      if (!isName(command['member'], maxNameLength))
        return `member must be a string of 1..${maxNameLength} chars`;
      return null;
    case 'session-expired':
      return isSeq(command['session']) ? null : 'session must be a lease id (a non-negative integer)';
    case 'settle':
      if (!isName(command['group'], maxNameLength))
        return `group must be a string of 1..${maxNameLength} chars`;
      return isSeq(command['changeSeq']) ? null : 'changeSeq must be a non-negative integer';
    default:
      return 'type must be join, leave, session-expired or settle';
  }
}
