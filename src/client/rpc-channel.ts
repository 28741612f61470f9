import type { Duplex } from 'node:stream';
import type { Pool } from 'undici';
import { SkeinError } from '../core/errors.ts';
import {
  encodeRpcFrame,
  RPC_MAX_FRAME_HEADER,
  RPC_MAX_INFLIGHT_HEADER,
  RPC_PATH,
  RPC_PATHS_HEADER,
  RPC_PROTOCOL,
  setNoDelay,
  writeCoalesced,
} from '../kv/rpc-protocol.ts';
import { FRAME_HEADER_BYTES, FrameDecoder } from '../transport/frame-decoder.ts';
import { deadlineSignal } from './deadline-signal.ts';
import { NotSentError } from './not-sent-error.ts';

/** An answer over the channel: the HTTP status and body, and the leader hint. */
export interface RpcAnswer {
  readonly status: number;
  readonly body: unknown;
  /** The leader's client URL when the member that answered does not lead (else null). */
  readonly leaderUrl: string | null;
}

export interface RpcChannelOptions {
  /** The member, e.g. http://127.0.0.1:8420 (for messages). */
  readonly url: string;
  /** Its HTTP connection pool: the upgrade request goes through it (TLS included). */
  readonly pool: Pool;
  /** Headers of the upgrade request (the bearer token). */
  readonly headers: Record<string, string>;
}

/**
 * Largest answer frame accepted: V8 cannot hold a longer string anyway (an HTTP answer that
 * large fails in JSON parsing too).
 */
const maxAnswerFrameBytes = 512 * 1024 * 1024;
/** After a member refused the upgrade, how long its requests go over HTTP before asking again. */
const refusedRetryMs = 30_000;

interface Pending {
  readonly resolve: (answer: RpcAnswer) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * skein/client's end of the RPC channel to one member (see kv/rpc-protocol.ts): one upgraded
 * connection, opened at the first request, carrying every request in flight to that member.
 * `request` answers null when the channel cannot carry a request (a member that refused the
 * upgrade, a path it does not carry, a request over its frame limit): the caller sends it over
 * HTTP instead, which answers exactly the same way.
 */
export class RpcChannel {
  readonly #options: RpcChannelOptions;
  readonly #pending = new Map<number, Pending>();
  #socket: Duplex | null = null;
  #connecting: Promise<void> | null = null;
  #paths = new Set<string>();
  #maxRequestFrameBytes = 0;
  #maxInflight = 0;
  /** Until when (epoch ms) the member is taken to refuse upgrades. */
  #refusedUntilMs = 0;
  #nextId = 1;
  #closed = false;

  constructor(options: RpcChannelOptions) {
    this.#options = options;
  }

  /**
   * Send `body` for `path`; null: send it over HTTP instead. Rejects with NotSentError when the
   * member cannot be reached (nothing was sent), and with SKEIN_UNAVAILABLE ("may or may not have
   * been applied") when the connection is lost or no answer comes within `timeoutMs`.
   */
  async request(path: string, body: unknown, timeoutMs: number): Promise<RpcAnswer | null> {
    if (this.#closed || Date.now() < this.#refusedUntilMs) return null;
    if (this.#socket === null) {
      this.#connecting ??= this.#connect(timeoutMs).finally(() => {
        this.#connecting = null;
      });
      await this.#connecting;
    }
    const socket = this.#socket;
    // Past the member's in-flight limit, requests queue in the HTTP pool instead of being refused.
    if (socket === null || !this.#paths.has(path) || this.#pending.size >= this.#maxInflight) return null;
    const id = this.#nextId++;
    const frame = encodeRpcFrame(JSON.stringify([id, path, body]));
    if (frame.length - FRAME_HEADER_BYTES > this.#maxRequestFrameBytes) return null;
    return new Promise<RpcAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        if (this.#pending.size === 0) refSocket(socket, false);
        reject(
          new SkeinError(
            'SKEIN_UNAVAILABLE',
            `no answer from ${this.#options.url} within ${timeoutMs} ms; the request may or may not have been applied`,
          ),
        );
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      if (this.#pending.size === 1) refSocket(socket, true);
      writeCoalesced(socket, frame);
    });
  }

  /** Close once the requests in flight are answered (or have timed out). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#connecting?.catch(() => undefined);
    while (this.#pending.size > 0 && this.#socket !== null) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.#socket?.destroy();
    this.#socket = null;
  }

  async #connect(timeoutMs: number): Promise<void> {
    const { url, pool, headers } = this.#options;
    let upgraded: { socket: Duplex; headers: Record<string, string | string[] | undefined> };
    const deadline = deadlineSignal(timeoutMs);
    try {
      upgraded = await pool.upgrade({
        path: RPC_PATH,
        protocol: RPC_PROTOCOL,
        headers,
        signal: deadline.signal,
      });
    } catch (error) {
      const e = error as { code?: string; message?: string };
      if (e.code === 'UND_ERR_SOCKET' && e.message === 'bad upgrade') {
        // Any answer but 101 (an older member, a proxy, a 401 or 503 that HTTP will report).
        this.#refusedUntilMs = Date.now() + refusedRetryMs;
        return;
      }
      throw new NotSentError('SKEIN_UNAVAILABLE', `cannot reach ${url}: ${e.message ?? String(error)}`, {
        cause: error,
      });
    } finally {
      deadline.clear();
    }
    const { socket } = upgraded;
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#maxRequestFrameBytes = Number(upgraded.headers[RPC_MAX_FRAME_HEADER] ?? 0);
    this.#maxInflight = Number(upgraded.headers[RPC_MAX_INFLIGHT_HEADER] ?? 0);
    const paths = upgraded.headers[RPC_PATHS_HEADER];
    this.#paths = new Set(typeof paths === 'string' ? paths.split(',') : []);
    setNoDelay(socket);
    refSocket(socket, false);
    const decoder = new FrameDecoder(maxAnswerFrameBytes);
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.feed(chunk, (payload) => {
          this.#onAnswer(payload);
        });
      } catch (error) {
        this.#lose(socket, error);
      }
    });
    socket.on('error', (error) => {
      this.#lose(socket, error);
    });
    socket.on('close', () => {
      this.#lose(socket, undefined);
    });
    this.#socket = socket;
  }

  #onAnswer(payload: Buffer): void {
    const answer = parseAnswer(payload);
    if (answer === null)
      throw new SkeinError(
        'SKEIN_UNAVAILABLE',
        'received an RPC answer that is not [id, status, body, leader]',
      );
    const [id, status, body, leaderUrl] = answer;
    if (id === 0) {
      // The member refused the stream itself (a frame it cannot parse) and ends the connection.
      const error = (body as { error?: { code?: string; message?: string } }).error;
      throw new SkeinError(
        error?.code ?? 'SKEIN_UNAVAILABLE',
        error?.message ?? `RPC protocol error (${status})`,
      );
    }
    const pending = this.#pending.get(id);
    if (pending === undefined) return; // timed out already
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (this.#pending.size === 0 && this.#socket !== null) refSocket(this.#socket, false);
    pending.resolve({ status, body, leaderUrl });
  }

  /** The connection is gone: fail what waits on it; the next request opens a new one. */
  #lose(socket: Duplex, error: unknown): void {
    if (this.#socket !== socket) return;
    this.#socket = null;
    socket.destroy();
    const reason = error instanceof Error ? error.message : 'the connection closed';
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(
        new SkeinError(
          'SKEIN_UNAVAILABLE',
          `lost the connection to ${this.#options.url} (${reason}); the request may or may not have been applied`,
          { cause: error },
        ),
      );
    }
  }
}

/**
 * An idle channel must not keep the process alive (as undici's idle HTTP sockets do not): the
 * socket holds the event loop only while requests wait on it. (A timed-out request's timer no
 * longer holds it either; its late answer is dropped.)
 */
function refSocket(socket: Duplex, held: boolean): void {
  const s = socket as { ref?: () => void; unref?: () => void };
  if (held) s.ref?.();
  else s.unref?.();
}

function parseAnswer(payload: Buffer): [number, number, unknown, string | null] | null {
  let message: unknown;
  try {
    message = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (
    !Array.isArray(message) ||
    message.length !== 4 ||
    !Number.isSafeInteger(message[0]) ||
    !Number.isSafeInteger(message[1]) ||
    (message[3] !== null && typeof message[3] !== 'string')
  ) {
    return null;
  }
  return message as [number, number, unknown, string | null];
}
