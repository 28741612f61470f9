import type { FastifyInstance } from 'fastify';
import { SkeinError } from '../core/errors.ts';
import type { WatchRequest, WatchResponse } from '../kv/types.ts';
import type { ServerContext } from './context.ts';
import { errorBody } from './http-errors.ts';
import { WatchBody } from './http-schemas.ts';
import type { WatchSink } from './watch-hub.ts';

/**
 * POST /v1/watch streams newline-delimited JSON: first `{"created":true,"revision":R,"watchId":n}`
 * (every change after revision R will follow), then one WatchResponse per line, and, if the server
 * ends the watch, a last `{"error":{...}}` line. Closing the connection cancels the watch.
 *
 * With `heartbeatMs` in the request, a `{"heartbeat":true}` line goes out whenever nothing else
 * was written for that long, so that a client can tell a quiet watch from a member that stopped
 * answering with its connection open (a paused process, a cut-off host) and resume elsewhere.
 */
const HEARTBEAT_LINE = `${JSON.stringify({ heartbeat: true })}\n`;

export function registerWatchRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/watch', { schema: { body: WatchBody } }, (request, reply) => {
    const { heartbeatMs, ...watch } = request.body as WatchRequest & { heartbeatMs?: number };
    if (watch.prefix === true && watch.rangeEnd !== undefined) {
      throw new SkeinError('SKEIN_INVALID_ARGUMENT', 'pass either prefix or rangeEnd, not both');
    }
    if (Buffer.byteLength(watch.key) > ctx.limits.maxKeyBytes) {
      throw new SkeinError('SKEIN_KEY_TOO_LARGE', `key exceeds ${ctx.limits.maxKeyBytes} bytes`);
    }
    const raw = reply.raw;
    let open = true;
    let wroteSinceHeartbeat = false;
    const sink: WatchSink = {
      send: (response: WatchResponse) => {
        if (!open) return true;
        wroteSinceHeartbeat = true;
        return raw.write(`${JSON.stringify(response)}\n`);
      },
      onDrain: (callback) => raw.once('drain', callback),
      close: (error) => {
        if (!open) return;
        open = false;
        if (error !== undefined) raw.write(`${JSON.stringify(errorBody(error))}\n`);
        raw.end();
      },
    };
    // Throws (compacted start revision, too many watches) before anything is streamed: a plain 4xx.
    const created = ctx.watches.add(watch, sink);
    reply.hijack();
    raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    // The "created" line first, then history (same synchronous turn: no write can slip between).
    raw.write(`${JSON.stringify({ created: true, revision: created.revision, watchId: created.id })}\n`);
    ctx.watches.start(created.id);
    request.raw.socket.setNoDelay(true);
    // A quiet stream gets a heartbeat every heartbeatMs; a stream with a full buffer needs none
    // (the client is still receiving what is queued).
    const heartbeats =
      heartbeatMs === undefined
        ? null
        : setInterval(() => {
            if (open && !wroteSinceHeartbeat && !raw.writableNeedDrain) raw.write(HEARTBEAT_LINE);
            wroteSinceHeartbeat = false;
          }, heartbeatMs);
    raw.on('close', () => {
      open = false;
      if (heartbeats !== null) clearInterval(heartbeats);
      ctx.watches.remove(created.id);
    });
  });
}
