import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SkeinError } from '../core/errors.ts';
import { kvError, KvErrorCode } from '../kv/errors.ts';
import { validateLeaseGrant } from '../kv/index.ts';
import type { LeaseInfo } from '../kv/types.ts';
import type { ServerContext } from './context.ts';
import { LeaseGrantBody, LeaseIdBody, LeaseTtlBody } from './http-schemas.ts';

/** Header set on a request one member forwards to the leader: the leader never forwards it again. */
export const FORWARDED_HEADER = 'x-skein-forwarded';

/**
 * /v1/lease: grant and revoke go through the log; keepalive and time-to-live are answered by the
 * leader from its in-memory lease clock (followers forward them), so keepalives never write the log.
 */
export function registerLeaseRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { node, store, leases, limits } = ctx;

  app.post('/v1/lease/grant', { schema: { body: LeaseGrantBody } }, async (request) => {
    const grant = validateLeaseGrant(request.body, limits);
    return await node.enqueue('lease-grant', grant);
  });

  app.post('/v1/lease/revoke', { schema: { body: LeaseIdBody } }, async (request) => {
    const { id } = request.body as { id: number };
    return await node.enqueue('lease-revoke', { id });
  });

  app.post('/v1/lease/keepalive', { schema: { body: LeaseIdBody } }, async (request) => {
    const { id } = request.body as { id: number };
    // Renews only once a quorum has confirmed this member still leads, and it has applied every
    // grant committed before the call.
    const renewed = await leases.keepAlive(id);
    if (renewed === undefined) throw kvError(KvErrorCode.LeaseNotFound, `lease ${id} does not exist`);
    if (renewed === null) return forward(ctx, request, '/v1/lease/keepalive');
    return renewed;
  });

  app.post('/v1/lease/timetolive', { schema: { body: LeaseTtlBody } }, async (request) => {
    const { id, keys } = request.body as { id: number; keys?: boolean };
    // The leader's clock, read once a quorum has confirmed it still leads (as a keepalive is).
    const looked = await leases.whileLeading(() => ({
      lease: store.lease(id),
      remainingMs: leases.remainingMs(id),
    }));
    if (looked === null) return forward(ctx, request, '/v1/lease/timetolive');
    const { lease, remainingMs } = looked;
    if (lease === undefined) throw kvError(KvErrorCode.LeaseNotFound, `lease ${id} does not exist`);
    const info: LeaseInfo = {
      id,
      grantedTtlSeconds: lease.grantedTtlSeconds,
      ttlSeconds: remainingMs < 0 ? -1 : Math.ceil(remainingMs / 1000),
      keys: keys === true ? lease.keys : [],
    };
    return info;
  });

  app.post('/v1/lease/list', async () => {
    const list = await node.read(() =>
      [...store.leases()].map((l) => ({ id: l.id, grantedTtlSeconds: l.grantedTtlSeconds })),
    );
    return { leases: list };
  });
}

function forward(ctx: ServerContext, request: FastifyRequest, path: string): Promise<unknown> {
  if (request.headers[FORWARDED_HEADER] !== undefined) {
    throw new SkeinError('SKEIN_NOT_LEADER', 'this member is no longer the leader; retry (the client does)');
  }
  return ctx.forwardToLeader(path, request.body);
}
