import type { FastifyInstance } from 'fastify';
import { SkeinError } from '../core/errors.ts';
import { kvError, KvErrorCode } from '../kv/errors.ts';
import {
  MembershipErrorCode,
  type GroupSummary,
  type MemberPlace,
  type MemberStatus,
} from '../membership/index.ts';
import type { ServerContext } from './context.ts';
import type { JoinApplied } from './coordination-state.ts';
import {
  GroupHeartbeatBody,
  GroupJoinBody,
  GroupListBody,
  GroupMemberBody,
  GroupReadBody,
} from './http-schemas.ts';
import { FORWARDED_HEADER } from './lease-routes.ts';

/**
 * /v1/groups: join and leave go through the log; a heartbeat is a lease keepalive on the leader
 * (followers forward it) answered with the member's index from the leader's state, so heartbeats
 * never write the log. Settles are proposed by the leader's {@link GroupSettler}, not by clients.
 */
export function registerGroupRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { node, state, leases } = ctx;

  app.post('/v1/groups/join', { schema: { body: GroupJoinBody } }, async (request) => {
    const join = request.body as { group: string; member: string; session: number };
    const { place } = (await node.enqueue('group-join', join)) as JoinApplied;
    const lease = state.kv.lease(join.session);
    return memberStatus(place, join, lease?.grantedTtlSeconds ?? 0);
  });

  app.post('/v1/groups/leave', { schema: { body: GroupMemberBody } }, async (request) => {
    await node.enqueue('group-leave', request.body);
    return {};
  });

  app.post('/v1/groups/heartbeat', { schema: { body: GroupHeartbeatBody } }, async (request) => {
    const { group, member, session } = request.body as { group: string; member: string; session: number };
    let renewed = leases.renew(session);
    if (renewed === undefined) {
      await node.read(() => undefined); // a fresh grant may be committed but not yet applied here
      renewed = leases.renew(session);
    }
    if (renewed === null) {
      if (request.headers[FORWARDED_HEADER] !== undefined) {
        throw new SkeinError('SKEIN_NOT_LEADER', 'this member is no longer the leader; retry');
      }
      return await ctx.forwardToLeader('/v1/groups/heartbeat', request.body);
    }
    if (renewed === undefined) {
      throw kvError(KvErrorCode.LeaseNotFound, `session ${session} expired or was revoked; join again`);
    }
    return memberStatus(state.groups.placeOf(group, member), { group, member, session }, renewed.ttlSeconds);
  });

  app.post('/v1/groups/get', { schema: { body: GroupReadBody } }, async (request) => {
    const { group, serializable } = request.body as { group: string; serializable?: boolean };
    const view =
      serializable === true ? state.groups.group(group) : await node.read(() => state.groups.group(group));
    if (view === null) {
      throw new SkeinError(MembershipErrorCode.GroupNotFound, `group ${group} has no members`);
    }
    return view;
  });

  app.post('/v1/groups/list', { schema: { body: GroupListBody } }, async (request) => {
    const { serializable } = request.body as { serializable?: boolean };
    const list = (): GroupSummary[] =>
      state.groups.groupNames().map((name) => {
        const g = state.groups.group(name)!;
        return {
          name,
          state: g.state,
          generation: g.generation,
          size: g.members.length,
          strategy: g.strategy,
          settleMs: g.settleMs,
        };
      });
    return { groups: serializable === true ? list() : await node.read(list) };
  });
}

function memberStatus(
  place: MemberPlace | null,
  who: { group: string; member: string; session: number },
  ttlSeconds: number,
): MemberStatus {
  const { group, member, session } = who;
  if (place?.session !== session) {
    throw new SkeinError(
      MembershipErrorCode.NotMember,
      `${member} is not in group ${group} under session ${session}; join again`,
    );
  }
  const { state: groupState, index, total, generation } = place;
  return { group, member, state: groupState, index, total, generation, ttlSeconds };
}
