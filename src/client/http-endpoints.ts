import { Pool, type Dispatcher } from 'undici';
import { SkeinError } from '../core/errors.ts';
import { RPC_CLIENT_PATHS } from '../kv/rpc-protocol.ts';
import { LEADER_URL_HEADER } from '../kv/types.ts';
import { NotSentError } from './not-sent-error.ts';
import { RpcChannel } from './rpc-channel.ts';

export { NotSentError } from './not-sent-error.ts';

export interface EndpointsOptions {
  readonly endpoints: readonly string[];
  readonly token: string | undefined;
  /** Sockets per member (the server answers requests on one socket in order). */
  readonly connectionsPerEndpoint: number;
  readonly requestTimeoutMs: number;
  /** TLS options for https:// endpoints (a private CA, say). */
  readonly tls?: { readonly ca?: string | Buffer };
  /** Send the kv requests over the RPC channel (kv/rpc-protocol.ts) where the member offers it. */
  readonly rpc: boolean;
}

/** An answer from a member: a JSON body with a status. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * The members a client talks to, one connection pool each. `preferred` is where requests go
 * first: the leader when known (a write sent to a follower costs one more hop), else the first
 * endpoint that answers.
 */
export class Endpoints {
  readonly #pools = new Map<string, Pool>();
  readonly #channels = new Map<string, RpcChannel>();
  readonly #urls: string[];
  /** Headers of requests with a JSON body, and of those without one (a DELETE must not claim JSON). */
  readonly #jsonHeaders: Record<string, string>;
  readonly #plainHeaders: Record<string, string>;
  readonly #options: EndpointsOptions;
  #preferred = 0;

  constructor(options: EndpointsOptions) {
    if (options.endpoints.length === 0) {
      throw new SkeinError(
        'SKEIN_INVALID_ARGUMENT',
        'connect() needs at least one endpoint, e.g. http://127.0.0.1:8420',
      );
    }
    this.#options = options;
    this.#urls = options.endpoints.map(normalizeUrl);
    this.#plainHeaders = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
    this.#jsonHeaders = { ...this.#plainHeaders, 'content-type': 'application/json' };
  }

  get urls(): readonly string[] {
    return this.#urls;
  }

  get preferred(): string {
    return this.#urls[this.#preferred]!;
  }

  /** Prefer `url` (adding it when it was discovered rather than configured). */
  prefer(url: string): void {
    const normalized = normalizeUrl(url);
    let index = this.#urls.indexOf(normalized);
    if (index < 0) index = this.#urls.push(normalized) - 1;
    this.#preferred = index;
  }

  /**
   * A member that does not lead named the leader's URL: send there from now on. A URL `prefer`
   * refuses (not an http(s) URL) is ignored, not thrown: the answer it came with is still good.
   */
  #followLeader(url: string): void {
    try {
      this.prefer(url);
    } catch {
      // keep the member we have
    }
  }

  /** Move to the next member after a failure. */
  rotate(failed: string): void {
    if (this.preferred === failed) this.#preferred = (this.#preferred + 1) % this.#urls.length;
  }

  /** Send JSON to one member. Network failures throw; HTTP errors return. */
  async send(
    url: string,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: unknown,
    timeoutMs = this.#options.requestTimeoutMs,
  ): Promise<HttpAnswer> {
    if (method === 'POST' && this.#options.rpc && RPC_CLIENT_PATHS.has(path)) {
      const answer = await this.#channel(url).request(path, body, timeoutMs);
      if (answer !== null) {
        if (answer.leaderUrl !== null) this.#followLeader(answer.leaderUrl);
        return { status: answer.status, body: answer.body };
      }
    }
    let answer: Dispatcher.ResponseData;
    try {
      answer = await this.#pool(url).request({
        path,
        method,
        headers: body === undefined ? this.#plainHeaders : this.#jsonHeaders,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      const message = `cannot reach ${url}: ${(error as Error).message}`;
      if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'UND_ERR_CONNECT_TIMEOUT') {
        throw new NotSentError('SKEIN_UNAVAILABLE', message, { cause: error });
      }
      throw new SkeinError('SKEIN_UNAVAILABLE', `${message}; the request may or may not have been applied`, {
        cause: error,
      });
    }
    const leaderUrl = answer.headers[LEADER_URL_HEADER];
    if (typeof leaderUrl === 'string') this.#followLeader(leaderUrl);
    const type = answer.headers['content-type'];
    const json = typeof type === 'string' && type.startsWith('application/json');
    return {
      status: answer.statusCode,
      body: json ? await answer.body.json() : await answer.body.arrayBuffer(),
    };
  }

  /** A streaming POST (watch): the caller reads and closes the body. */
  async stream(
    url: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    return this.#pool(url).request({
      path,
      method: 'POST',
      headers: this.#jsonHeaders,
      body: JSON.stringify(body),
      signal,
      headersTimeout: this.#options.requestTimeoutMs,
      // Watches idle for as long as nothing changes; liveness comes from progress notifications.
      bodyTimeout: 0,
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#channels.values()].map((channel) => channel.close()));
    this.#channels.clear();
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    this.#pools.clear();
  }

  #channel(url: string): RpcChannel {
    let channel = this.#channels.get(url);
    if (channel === undefined) {
      channel = new RpcChannel({ url, pool: this.#pool(url), headers: this.#plainHeaders });
      this.#channels.set(url, channel);
    }
    return channel;
  }

  #pool(url: string): Pool {
    let pool = this.#pools.get(url);
    if (pool === undefined) {
      const tls = this.#options.tls;
      pool = new Pool(url, {
        connections: this.#options.connectionsPerEndpoint,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        ...(tls?.ca !== undefined ? { connect: { ca: tls.ca } } : {}),
      });
      this.#pools.set(url, pool);
    }
    return pool;
  }
}

function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SkeinError(
      'SKEIN_INVALID_ARGUMENT',
      `endpoint "${url}" is not a URL such as http://127.0.0.1:8420`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SkeinError('SKEIN_INVALID_ARGUMENT', `endpoint "${url}" must be http:// or https://`);
  }
  return `${parsed.protocol}//${parsed.host}`;
}
