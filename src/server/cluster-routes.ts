import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { SkeinError } from '../core/errors.ts';
import type { MemberInfo } from '../kv/types.ts';
import type { ServerContext } from './context.ts';
import { MemberAddBody, MemberParams } from './http-schemas.ts';
import { streamBackup } from './backup.ts';

/** /v1/members, /v1/status, /v1/snapshot, and the unauthenticated /health, /ready, /metrics. */
export function registerClusterRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { node } = ctx;

  app.get('/v1/members', async () => {
    // Through a read barrier, so that a member just added is listed by every member asked after.
    await node.read(() => undefined);
    return { members: ctx.status().members };
  });

  app.post('/v1/members', { schema: { body: MemberAddBody } }, async (request) => {
    const { name, peerAddress, learner } = request.body as {
      name: string;
      peerAddress: string;
      learner?: boolean;
    };
    if (learner === true) await node.addLearners({ [name]: peerAddress });
    else await node.attachNodes({ [name]: peerAddress });
    return { members: ctx.status().members };
  });

  app.delete('/v1/members/:name', { schema: { params: MemberParams } }, async (request) => {
    const { name } = request.params as { name: string };
    requireMember(ctx, name);
    await node.detachNodes([name]);
    return { members: ctx.status().members };
  });

  app.post('/v1/members/:name/promote', { schema: { params: MemberParams } }, async (request) => {
    const { name } = request.params as { name: string };
    requireMember(ctx, name);
    await node.promoteLearners([name]);
    return { members: ctx.status().members };
  });

  app.get('/v1/status', () => ctx.status());

  // A consistent point-in-time backup of the store (not of Raft membership): `skein snapshot save`.
  app.post('/v1/snapshot', async (_request, reply) => {
    // Captured under the read barrier (cheap), encoded while it streams out.
    const backup = await node.read(() => streamBackup(ctx.store.revision, ctx.store.snapshot()));
    void reply.header('content-type', 'application/octet-stream');
    return reply.send(Readable.from(backup, { objectMode: false }));
  });

  app.get('/health', (_request, reply) => {
    const status = node.status();
    const healthy = !ctx.closing();
    void reply.code(healthy ? 200 : 503);
    return { health: healthy, role: status.role, term: status.term };
  });

  app.get('/ready', (_request, reply) => {
    const status = node.status();
    const ready =
      !ctx.closing() && status.leaderId !== null && status.appliedIndex >= status.commitIndex - 1000;
    void reply.code(ready ? 200 : 503);
    return {
      ready,
      leader: status.leaderId,
      appliedIndex: status.appliedIndex,
      commitIndex: status.commitIndex,
    };
  });

  app.get('/metrics', async (_request, reply) => {
    void reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}

function requireMember(ctx: ServerContext, name: string): MemberInfo {
  const member = ctx.status().members.find((m) => m.id === name);
  if (member === undefined) {
    throw new SkeinError(
      'SKEIN_MEMBER_NOT_FOUND',
      `no member named "${name}"; list them with GET /v1/members`,
    );
  }
  return member;
}
