import type { AssignmentStrategy } from './assignment.ts';
import type { GroupState, MemberMetadata } from './commands.ts';

/** A join as a client sends it (POST /v1/groups/join). */
export interface GroupJoinRequest {
  readonly group: string;
  /** The member's id, unique in the group (e.g. a hostname or a UUID). */
  readonly member: string;
  /** A live lease: keepalive is the heartbeat, revoke is a leave, expiry evicts the member. */
  readonly session: number;
  readonly metadata?: MemberMetadata;
  readonly weight?: number;
  /** Fixed by the join that creates the group; default `sticky`. */
  readonly strategy?: AssignmentStrategy;
  /** Fixed by the join that creates the group; default 5000. */
  readonly settleMs?: number;
  /** Refuse the join (409 SKEIN_MEMBERSHIP_SETTLE_MISMATCH) if the group settles sooner than this. */
  readonly heartbeatIntervalMs?: number;
}

/** What a member learns from a join or heartbeat: its own place in the group right now. */
export interface MemberStatus {
  readonly group: string;
  readonly member: string;
  readonly state: GroupState;
  /** 1..total while SETTLED, else null. */
  readonly index: number | null;
  readonly total: number | null;
  /** Generation of the group's last settle: the fencing token for work done under `index`. */
  readonly generation: number;
  /** The session's TTL: heartbeat well within it. */
  readonly ttlSeconds: number;
  /** The group's settle period; a member's heartbeat interval must not exceed it. */
  readonly settleMs: number;
}

/** A group as a list shows it. */
export interface GroupSummary {
  readonly name: string;
  readonly state: GroupState;
  readonly generation: number;
  readonly size: number;
  readonly strategy: AssignmentStrategy;
  readonly settleMs: number;
}
