import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { SkeinError } from '../core/errors.ts';
import { LEADER_URL_HEADER, MEMBER_ID_HEADER } from '../kv/types.ts';
import type { ServerContext } from './context.ts';
import { registerClusterRoutes } from './cluster-routes.ts';
import { errorAnswer, errorBody, stoppingError, unauthorizedError, unwrapError } from './http-errors.ts';
import { registerGroupRoutes } from './group-routes.ts';
import { kvOps } from './kv-ops.ts';
import { publishedClientUrl } from './leader-client.ts';
import { registerLeaseRoutes } from './lease-routes.ts';
import { RpcServer } from './rpc-server.ts';
import { registerUnaryRoutes } from './unary-routes.ts';
import { registerWatchRoute } from './watch-route.ts';

/** How long a stopping member waits for RPC answers in flight before cutting the connections. */
const rpcCloseGraceMs = 5_000;

export interface HttpAppOptions {
  readonly https?: { readonly key: Buffer; readonly cert: Buffer; readonly ca?: Buffer };
}

/**
 * The client API of one member: /v1 (kv, txn, leases, watch, members, status), /metrics, /health,
 * /ready. Every failure is `{ error: { code, message } }` with a 4xx/5xx status.
 */
export function buildHttpApp(ctx: ServerContext, options: HttpAppOptions = {}): FastifyInstance {
  const fastifyOptions: FastifyServerOptions = {
    logger: false,
    bodyLimit: ctx.maxRequestBytes,
    // Strict validation: no silent coercion ("1" is not 1), no dropping of unknown fields.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
    keepAliveTimeout: 60_000,
  };
  // fastify types an HTTPS server differently; the routes do not care which one it is.
  const app: FastifyInstance =
    options.https === undefined
      ? Fastify(fastifyOptions)
      : Fastify({ ...fastifyOptions, https: options.https } as FastifyServerOptions);

  const tokenOk = (header: string | undefined): boolean =>
    ctx.authToken === undefined || authorized(header, ctx.authToken);

  app.addHook('onRequest', (request, reply, done) => {
    if (ctx.closing() && request.url.startsWith('/v1/')) {
      void reply.code(503).send(errorBody(stoppingError()));
      return;
    }
    if (request.url.startsWith('/v1/') && !tokenOk(request.headers.authorization)) {
      void reply.code(401).send(errorBody(unauthorizedError()));
      return;
    }
    if (request.url.startsWith('/v1/')) {
      void reply.header(MEMBER_ID_HEADER, ctx.node.id);
      // Clients follow this to the leader: a write sent here costs one more hop.
      const leaderUrl = leaderUrlElsewhere(ctx);
      if (leaderUrl !== undefined) void reply.header(LEADER_URL_HEADER, leaderUrl);
    }
    done();
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unknown';
    ctx.metrics.requests.inc({ route, status: reply.statusCode });
    ctx.metrics.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler((raw: FastifyError | Error, _request, reply) => {
    const answer = errorAnswer(translateFastifyError(unwrapError(raw)));
    if (answer.unexpected) ctx.logger.error({ err: raw }, 'request failed');
    void reply.code(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send(
        errorBody(
          new SkeinError(
            'SKEIN_NOT_FOUND',
            `no route ${request.method} ${request.url}; see docs/http-api.md`,
          ),
        ),
      );
  });

  const kv = kvOps(ctx);
  registerUnaryRoutes(app, kv);
  registerLeaseRoutes(app, ctx);
  registerGroupRoutes(app, ctx);
  registerWatchRoute(app, ctx);
  registerClusterRoutes(app, ctx);

  // skein/client's fast path for the same kv ops (see kv/rpc-protocol.ts).
  const rpc = new RpcServer({
    ctx,
    ops: kv,
    authorized: tokenOk,
    leaderUrl: () => leaderUrlElsewhere(ctx),
  });
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    rpc.handleUpgrade(request, socket, head);
  });
  // Upgraded sockets are no longer the HTTP server's: end them, or closing would wait for them.
  app.addHook('preClose', async () => {
    await rpc.close(rpcCloseGraceMs);
  });
  return app;
}

function authorized(header: string | undefined, token: string): boolean {
  if (header?.startsWith('Bearer ') !== true) return false;
  const given = Buffer.from(header.slice('Bearer '.length));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Fastify's own errors (schema validation, bad JSON, body too large) as stable skein codes. */
function translateFastifyError(error: unknown): unknown {
  if (error instanceof SkeinError) return error;
  const e = error as Partial<FastifyError> & { validation?: unknown };
  if (e.validation !== undefined) {
    return new SkeinError(
      'SKEIN_INVALID_ARGUMENT',
      `invalid request: ${e.message ?? 'bad field'}; see docs/http-api.md`,
    );
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new SkeinError(
        'SKEIN_BODY_TOO_LARGE',
        'request body exceeds --max-request-bytes; send less per request',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new SkeinError('SKEIN_INVALID_ARGUMENT', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new SkeinError('SKEIN_INVALID_ARGUMENT', 'the request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new SkeinError('SKEIN_INVALID_ARGUMENT', 'Content-Length does not match the body');
    default:
      break;
  }
  if (e.statusCode === 400) {
    // Malformed JSON and other client errors fastify detects while parsing.
    return new SkeinError('SKEIN_INVALID_ARGUMENT', `bad request: ${e.message ?? 'malformed body'}`);
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new SkeinError('SKEIN_INVALID_ARGUMENT', e.message ?? 'bad request');
  }
  return error;
}

/** The leader's client URL when another member leads and has published it, else undefined. */
function leaderUrlElsewhere(ctx: ServerContext): string | undefined {
  const leaderId = ctx.node.leaderId;
  if (leaderId === null || leaderId === ctx.node.id) return undefined;
  return publishedClientUrl(ctx.store, leaderId);
}
