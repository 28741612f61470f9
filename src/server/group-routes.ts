import type { FastifyInstance } from 'fastify';
import { SkeinError } from '../core/errors.ts';
import { MembershipErrorCode, type GroupJoinRequest, type GroupSummary } from '../membership/index.ts';
import type { ServerContext } from './context.ts';
import { heartbeatOnLeader, joinThroughLog } from './group-ops.ts';
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

  app.post('/v1/groups/join', { schema: { body: GroupJoinBody } }, async (request) =>
    joinThroughLog(node, state, request.body as GroupJoinRequest),
  );

  app.post('/v1/groups/leave', { schema: { body: GroupMemberBody } }, async (request) => {
    await node.enqueue('group-leave', request.body);
    return {};
  });

  app.post('/v1/groups/heartbeat', { schema: { body: GroupHeartbeatBody } }, async (request) => {
    const body = request.body as { group: string; member: string; session: number };
    const status = await heartbeatOnLeader(state, leases, body);
    if (status !== null) return status;
    if (request.headers[FORWARDED_HEADER] !== undefined) {
      throw new SkeinError('SKEIN_NOT_LEADER', 'this member is no longer the leader; retry');
    }
    return await ctx.forwardToLeader('/v1/groups/heartbeat', body);
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
    const list = (): GroupSummary[] => state.groups.summaries();
    return { groups: serializable === true ? list() : await node.read(list) };
  });
}
