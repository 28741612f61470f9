import { SkeinError } from '../core/errors.ts';
import { kvError, KvErrorCode } from '../kv/errors.ts';
import {
  MembershipErrorCode,
  type GroupJoinRequest,
  type MemberPlace,
  type MemberStatus,
} from '../membership/index.ts';
import type { RaftNode } from '../raft/node.ts';
import type { CoordinationState, JoinApplied } from './coordination-state.ts';
import type { LeaseExpiry } from './lease-expiry.ts';

/**
 * The two group operations a member makes, independent of HTTP so that the simulator runs exactly
 * what the routes run: a join through the log, and a heartbeat answered by the leader.
 */

/** Join through the log; the answer is the member's place as of the join's own apply. */
export async function joinThroughLog(
  node: RaftNode,
  state: CoordinationState,
  request: GroupJoinRequest,
): Promise<MemberStatus> {
  const { place } = (await node.enqueue('group-join', request)) as JoinApplied;
  const ttlSeconds = state.kv.lease(request.session)?.grantedTtlSeconds ?? 0;
  return memberStatus(place, request, ttlSeconds);
}

/**
 * A heartbeat on this member: renew the session's lease (only the leader can) and answer the
 * member's place from the leader's state, without writing the log. Null when this member is not
 * the leader (the caller forwards).
 */
export async function heartbeatOnLeader(
  state: CoordinationState,
  leases: LeaseExpiry,
  request: { group: string; member: string; session: number },
): Promise<MemberStatus | null> {
  const { group, member, session } = request;
  // Once a quorum has confirmed this member still leads, and it has applied every grant and join
  // committed before the call (a new leader may not have caught up with its predecessor's log).
  const looked = await leases.whileLeading(() => ({
    renewed: leases.renewConfirmed(session),
    place: state.groups.placeOf(group, member),
  }));
  if (looked === null) return null;
  const { renewed, place } = looked;
  if (renewed === null) return null;
  if (renewed === undefined) {
    throw kvError(KvErrorCode.LeaseNotFound, `session ${session} expired or was revoked; join again`);
  }
  return memberStatus(place, request, renewed.ttlSeconds);
}

/** A member's status from its place, or SKEIN_MEMBERSHIP_NOT_MEMBER if it is not there under `session`. */
export function memberStatus(
  place: MemberPlace | null,
  who: { readonly group: string; readonly member: string; readonly session: number },
  ttlSeconds: number,
): MemberStatus {
  const { group, member, session } = who;
  if (place?.session !== session) {
    throw new SkeinError(
      MembershipErrorCode.NotMember,
      `${member} is not in group ${group} under session ${session}; join again`,
    );
  }
  const { state: groupState, index, total, generation, settleMs } = place;
  return { group, member, state: groupState, index, total, generation, ttlSeconds, settleMs };
}
