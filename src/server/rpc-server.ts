import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import fastJson from 'fast-json-stringify';
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
import { FrameDecoder } from '../transport/frame-decoder.ts';
import type { ServerContext } from './context.ts';
import { errorAnswer, stoppingError, unauthorizedError, unwrapError } from './http-errors.ts';
import type { UnaryOp } from './kv-ops.ts';

export interface RpcServerOptions {
  readonly ctx: ServerContext;
  readonly ops: readonly UnaryOp[];
  /** Whether an upgrade request's `authorization` header is good (always true without a token). */
  readonly authorized: (header: string | undefined) => boolean;
  /** The leader's client URL when another member leads (sent with every answer), else undefined. */
  readonly leaderUrl: () => string | undefined;
  /** Requests one connection may have in flight; more are answered 429 at once. Default 4096. */
  readonly maxInflightPerConnection?: number;
}

interface CompiledOp {
  readonly op: UnaryOp;
  readonly check: TypeCheck<TSchema>;
  readonly serialize: (value: unknown) => string;
}

/** An answer ready to frame: its status and its body as JSON text. */
interface Answer {
  readonly status: number;
  readonly json: string;
}

/**
 * The member's end of the RPC channel (see kv/rpc-protocol.ts): accepts `GET /v1/rpc` upgrades on
 * the client port and serves the same ops as the HTTP routes, with the same validation, answers
 * and errors. Each connection answers requests as they complete (not in order), writes the
 * answers of one turn of the event loop in one syscall, stops reading while its peer is not
 * reading answers, and refuses more than `maxInflightPerConnection` requests at a time.
 */
export class RpcServer {
  readonly #options: RpcServerOptions;
  readonly #ops = new Map<string, CompiledOp>();
  readonly #connections = new Set<RpcConnection>();
  readonly #maxInflight: number;
  readonly #pathsHeader: string;

  constructor(options: RpcServerOptions) {
    this.#options = options;
    this.#maxInflight = options.maxInflightPerConnection ?? 4096;
    for (const op of options.ops) {
      const reply = op.reply;
      this.#ops.set(op.path, {
        op,
        check: TypeCompiler.Compile(op.body),
        serialize: reply === undefined ? (value) => JSON.stringify(value) : fastJson(reply),
      });
    }
    this.#pathsHeader = [...this.#ops.keys()].join(',');
  }

  /** Handle an HTTP server's 'upgrade' event: accept a skein-rpc/1 upgrade or refuse it. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { ctx } = this.#options;
    const refusal = this.#refusal(request);
    if (refusal !== null) {
      refuse(socket, refusal);
      return;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        `Upgrade: ${RPC_PROTOCOL}\r\nConnection: Upgrade\r\n` +
        `${RPC_MAX_FRAME_HEADER}: ${ctx.maxRequestBytes}\r\n${RPC_MAX_INFLIGHT_HEADER}: ${this.#maxInflight}\r\n` +
        `${RPC_PATHS_HEADER}: ${this.#pathsHeader}\r\n\r\n`,
    );
    const connection = new RpcConnection(socket, this, ctx.maxRequestBytes);
    this.#connections.add(connection);
    ctx.metrics.rpcConnections.inc();
    socket.once('close', () => {
      this.#connections.delete(connection);
      ctx.metrics.rpcConnections.dec();
    });
    connection.start(head);
  }

  /**
   * Stop: every connection ends once the answers to its requests in flight are written (requests
   * that arrive meanwhile get 503 SKEIN_STOPPED); after `graceMs` the rest are cut.
   */
  async close(graceMs: number): Promise<void> {
    const closed = [...this.#connections].map((c) => c.endWhenIdle());
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const c of this.#connections) c.destroy();
        resolve();
      }, graceMs);
    });
    await Promise.race([Promise.all(closed), cut]);
    clearTimeout(timer);
  }

  /** Serve one request; never throws (a failure is an error answer). */
  async serve(path: string, body: unknown, inflight: number): Promise<Answer> {
    const { ctx } = this.#options;
    const startedMs = performance.now();
    const compiled = this.#ops.get(path);
    let answer: Answer;
    try {
      if (compiled === undefined) {
        throw new SkeinError(
          'SKEIN_NOT_FOUND',
          `the RPC channel has no route ${path}; it carries ${this.#pathsHeader} (see docs/http-api.md)`,
        );
      }
      if (ctx.closing()) throw stoppingError();
      if (inflight > this.#maxInflight) {
        throw new SkeinError(
          'SKEIN_OVERLOADED',
          `more than ${this.#maxInflight} requests in flight on one RPC connection; wait for answers`,
        );
      }
      if (!compiled.check.Check(body)) throw invalidBody(compiled.check, body);
      answer = { status: 200, json: compiled.serialize(await compiled.op.handle(body)) };
    } catch (raw) {
      const failed = errorAnswer(unwrapError(raw));
      if (failed.unexpected) ctx.logger.error({ err: raw, path }, 'RPC request failed');
      answer = { status: failed.status, json: JSON.stringify(failed.body) };
    }
    const route = compiled === undefined ? 'unknown' : path;
    ctx.metrics.requests.inc({ route, status: answer.status });
    ctx.metrics.requestSeconds.observe({ route }, (performance.now() - startedMs) / 1000);
    return answer;
  }

  /** The leader hint of an answer, as JSON. */
  leaderJson(): string {
    const url = this.#options.leaderUrl();
    return url === undefined ? 'null' : JSON.stringify(url);
  }

  /** Why an upgrade request is refused (its status follows from the code), or null to accept it. */
  #refusal(request: IncomingMessage): SkeinError | null {
    const { ctx, authorized } = this.#options;
    const path = (request.url ?? '').split('?')[0] ?? '';
    if (path !== RPC_PATH) {
      return new SkeinError('SKEIN_NOT_FOUND', `no upgrade at ${path}; the RPC channel is at ${RPC_PATH}`);
    }
    const protocol = request.headers.upgrade ?? '';
    if (request.method !== 'GET' || protocol.toLowerCase() !== RPC_PROTOCOL) {
      return new SkeinError(
        'SKEIN_INVALID_ARGUMENT',
        `${RPC_PATH} takes GET with "Upgrade: ${RPC_PROTOCOL}", got ${request.method ?? '?'} with "${protocol}"`,
      );
    }
    if (ctx.closing()) return stoppingError();
    if (!authorized(request.headers.authorization)) return unauthorizedError();
    return null;
  }
}

/** One upgraded connection. */
class RpcConnection {
  readonly #socket: Duplex;
  readonly #server: RpcServer;
  readonly #decoder: FrameDecoder;
  #inflight = 0;
  /** Set once no more requests are read: the socket ends when the last answer is written. */
  #ending = false;
  readonly #idle: { resolve: (() => void) | null } = { resolve: null };

  constructor(socket: Duplex, server: RpcServer, maxFrameBytes: number) {
    this.#socket = socket;
    this.#server = server;
    this.#decoder = new FrameDecoder(maxFrameBytes);
  }

  start(head: Buffer): void {
    const socket = this.#socket;
    setNoDelay(socket);
    socket.on('data', (chunk: Buffer) => {
      this.#onData(chunk);
    });
    // A peer that does not read its answers stops being read (see #write); it resumes here.
    socket.on('drain', () => {
      if (!this.#ending) socket.resume();
    });
    // The HTTP server's sockets allow half-open connections: a client that ends its side (or
    // exits) would otherwise leave this one open for good. Answer what was read, then end ours.
    socket.on('end', () => {
      this.#stopReading();
    });
    socket.on('error', () => {
      socket.destroy();
    });
    socket.once('close', () => {
      this.#decoder.stop();
      this.#idle.resolve?.();
    });
    if (head.length > 0) this.#onData(head);
  }

  /** Read no more requests; resolves once the answers in flight are written and the socket ended. */
  endWhenIdle(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.destroyed) {
        resolve();
        return;
      }
      this.#idle.resolve = resolve;
      this.#stopReading();
    });
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    try {
      this.#decoder.feed(chunk, (payload) => {
        this.#onFrame(payload);
      });
    } catch (error) {
      // A length prefix that can never be valid: nothing after it can be parsed.
      const tooLarge = error instanceof SkeinError && error.code === 'SKEIN_FRAME_TOO_LARGE';
      this.#fail(
        tooLarge
          ? new SkeinError(
              'SKEIN_BODY_TOO_LARGE',
              `${(error as Error).message}; the member's limit is its --max-request-bytes (send such requests over HTTP to get a 413 for that request alone)`,
            )
          : error,
      );
    }
  }

  #onFrame(payload: Buffer): void {
    let message: unknown;
    try {
      message = JSON.parse(payload.toString('utf8'));
    } catch {
      this.#fail(new SkeinError('SKEIN_INVALID_ARGUMENT', 'an RPC frame is not JSON; see docs/http-api.md'));
      return;
    }
    if (!isRequest(message)) {
      this.#fail(
        new SkeinError(
          'SKEIN_INVALID_ARGUMENT',
          'an RPC request is [id, path, body] with id a positive integer and path a string; see docs/http-api.md',
        ),
      );
      return;
    }
    const [id, path, body] = message;
    this.#inflight++;
    void this.#server.serve(path, body, this.#inflight).then((answer) => {
      this.#inflight--;
      this.#write(`[${id},${answer.status},${answer.json},${this.#server.leaderJson()}]`);
      if (this.#ending && this.#inflight === 0) this.#socket.end();
    });
  }

  /**
   * A protocol error: answer it with id 0, read nothing more, and end the connection once the
   * answers to the requests already read are written.
   */
  #fail(error: unknown): void {
    const answer = errorAnswer(error);
    this.#write(`[0,${answer.status},${JSON.stringify(answer.body)},null]`);
    this.#stopReading();
  }

  #stopReading(): void {
    this.#ending = true;
    this.#decoder.stop();
    this.#socket.pause();
    if (this.#inflight === 0) this.#socket.end();
  }

  #write(json: string): void {
    const socket = this.#socket;
    if (socket.destroyed) return;
    if (!writeCoalesced(socket, encodeRpcFrame(json))) socket.pause();
  }
}

function isRequest(message: unknown): message is [number, string, unknown] {
  return (
    Array.isArray(message) &&
    message.length === 3 &&
    Number.isSafeInteger(message[0]) &&
    (message[0] as number) > 0 &&
    typeof message[1] === 'string'
  );
}

function invalidBody(check: TypeCheck<TSchema>, body: unknown): SkeinError {
  const first = check.Errors(body).First();
  const where = first === undefined || first.path === '' ? 'body' : `body${first.path}`;
  return new SkeinError(
    'SKEIN_INVALID_ARGUMENT',
    `invalid request: ${where} ${first?.message ?? 'does not match the schema'}; see docs/http-api.md`,
  );
}

/** Answer an upgrade request with an HTTP error and close. */
function refuse(socket: Duplex, error: SkeinError): void {
  const { status, body } = errorAnswer(error);
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(json)}\r\n` +
      `connection: close\r\n\r\n${json}`,
  );
}
