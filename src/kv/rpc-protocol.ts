import type { Duplex } from 'node:stream';
import { FRAME_HEADER_BYTES } from '../transport/frame-decoder.ts';

/**
 * The RPC channel: skein/client's fast path for the unary kv requests (put, range, delete, txn,
 * compact). The client upgrades one HTTP connection per member (`GET /v1/rpc`, `Upgrade:
 * skein-rpc/1`, the usual bearer token), then sends requests as frames and reads answers as
 * frames, many in flight at once, matched by id. Each frame (skein/transport's framing, read by
 * its FrameDecoder) is a big-endian u32 byte length and that many bytes of UTF-8 JSON:
 *
 * - request: `[id, path, body]`, `id` a positive integer unique among the requests in flight on the
 *   connection, `path` and `body` as for `POST <path>` over HTTP;
 * - answer: `[id, status, body, leaderUrl]`, `status` and `body` as the HTTP answer's, `leaderUrl`
 *   as the `skein-leader` header (or null).
 *
 * Why: on a small, busy machine an HTTP/1.1 request through undici and fastify cost about 0.7 ms
 * more per round trip than the same bytes on a plain socket (see docs/http-api.md).
 */

export const RPC_PATH = '/v1/rpc';
export const RPC_PROTOCOL = 'skein-rpc/1';
/** 101 answer header: the largest request frame the member accepts (bytes of JSON). */
export const RPC_MAX_FRAME_HEADER = 'skein-rpc-max-frame-bytes';
/** 101 answer header: how many requests one connection may have in flight (more are refused). */
export const RPC_MAX_INFLIGHT_HEADER = 'skein-rpc-max-inflight';
/** 101 answer header: the comma-separated paths the channel carries. */
export const RPC_PATHS_HEADER = 'skein-rpc-paths';

/** The kv service's unary requests: `POST <path>` over HTTP, or over the RPC channel. */
export const KvPaths = {
  put: '/v1/kv/put',
  range: '/v1/kv/range',
  delete: '/v1/kv/delete',
  txn: '/v1/kv/txn',
  compact: '/v1/kv/compact',
} as const;

/**
 * The paths skein/client tries the channel for (a member announces what it carries at the
 * upgrade). Other requests go straight to HTTP, so a client that only keeps leases alive, say,
 * opens no channel.
 */
export const RPC_CLIENT_PATHS: ReadonlySet<string> = new Set(Object.values(KvPaths));

/**
 * Write `frame`; the frames written in one turn of the event loop leave in one write (many answers
 * or requests in flight cost one syscall, not one each). False: the socket's buffer is full.
 */
export function writeCoalesced(socket: Duplex, frame: Buffer): boolean {
  if (socket.writableCorked === 0) {
    socket.cork();
    process.nextTick(() => {
      socket.uncork();
    });
  }
  return socket.write(frame);
}

/** Send small frames at once (no Nagle delay); an upgraded socket is typed as a plain Duplex. */
export function setNoDelay(socket: Duplex): void {
  (socket as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
}

/** One frame: the length prefix, then `json` as UTF-8. */
export function encodeRpcFrame(json: string): Buffer {
  const bytes = Buffer.byteLength(json);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bytes);
  frame.writeUInt32BE(bytes, 0);
  frame.write(json, FRAME_HEADER_BYTES, 'utf8');
  return frame;
}
