import { Pool, type Dispatcher } from 'undici';
import { SkeinError } from '../core/errors.ts';
import { RPC_CLIENT_PATHS } from '../kv/rpc-protocol.ts';
import { LEADER_URL_HEADER, MEMBER_ID_HEADER, type MemberInfo } from '../kv/types.ts';
import { deadlineSignal } from './deadline-signal.ts';
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

/**
 * How long a member that did not answer is passed over when the client moves on: enough for an
 * election and a few retries elsewhere, short enough to return to it soon after it is back.
 */
const UNRESPONSIVE_MEMBER_SKIP_MS = 5000;

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
  /** The endpoints the client was given: {@link sync} never drops them. */
  readonly #configured: readonly string[];
  /** Headers of requests with a JSON body, and of those without one (a DELETE must not claim JSON). */
  readonly #jsonHeaders: Record<string, string>;
  readonly #plainHeaders: Record<string, string>;
  readonly #options: EndpointsOptions;
  /**
   * Members that failed to answer (no connection, or no answer in time), until when: `rotate` and
   * a follower's leader hint pass them over meanwhile, so that a paused member does not cost a
   * timeout on every round through the list.
   */
  readonly #unresponsiveUntilMs = new Map<string, number>();
  /** The member behind each URL that has answered (its `skein-member` header). */
  readonly #memberIds = new Map<string, string>();
  /**
   * Published client URLs of members the list already reaches under another URL (a configured
   * `localhost:8420` for a published `127.0.0.1:8420`): a leader hint naming one goes there.
   */
  readonly #aliases = new Map<string, string>();
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
    this.#configured = [...new Set(this.#urls)];
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
    const normalized = this.#resolve(url);
    let index = this.#urls.indexOf(normalized);
    if (index < 0) index = this.#urls.push(normalized) - 1;
    this.#preferred = index;
  }

  /**
   * Make the member list the configured endpoints plus the members' published client URLs (as the
   * cluster reports them): members added since are added, discovered members that left are
   * dropped and their connections closed. Configured endpoints always stay (a published URL may
   * not be reachable from here, and a configured one that stops answering is passed over anyway).
   * A member already reached under another URL (one that answered with that member's id) is not
   * added twice. URLs that are not http(s) are skipped. The preferred member stays preferred if
   * it remains.
   */
  sync(members: readonly Pick<MemberInfo, 'id' | 'clientUrl'>[]): void {
    const next = [...this.#configured];
    this.#aliases.clear();
    for (const { id, clientUrl } of members) {
      let normalized: string;
      try {
        normalized = normalizeUrl(clientUrl);
      } catch {
        continue; // not a usable URL: leave it out
      }
      const reached = next.find((url) => {
        const known = this.#memberIds.get(url); // a URL whose member never named itself matches none
        return url !== normalized && known !== undefined && known === id;
      });
      if (reached !== undefined) this.#aliases.set(normalized, reached);
      else if (!next.includes(normalized)) next.push(normalized);
    }
    const preferred = this.#aliases.get(this.preferred) ?? this.preferred;
    for (const gone of this.#urls.filter((url) => !next.includes(url))) this.#retire(gone);
    this.#urls.splice(0, this.#urls.length, ...next);
    this.#preferred = Math.max(0, next.indexOf(preferred));
  }

  /** `url` normalized, or the URL in the list that reaches the same member. */
  #resolve(url: string): string {
    const normalized = normalizeUrl(url);
    return this.#aliases.get(normalized) ?? normalized;
  }

  /** Close the connections to a member no longer in the list (requests in flight finish first). */
  #retire(url: string): void {
    const channel = this.#channels.get(url);
    const pool = this.#pools.get(url);
    this.#channels.delete(url);
    this.#pools.delete(url);
    this.#unresponsiveUntilMs.delete(url);
    this.#memberIds.delete(url);
    void (async () => {
      await channel?.close();
      await pool?.close();
    })().catch(() => undefined);
  }

  /**
   * A member that does not lead named the leader's URL: send there from now on. A URL `prefer`
   * refuses (not an http(s) URL) is ignored, not thrown: the answer it came with is still good.
   */
  #followLeader(url: string): void {
    try {
      // A follower that has not heard of an election yet still names the leader that stopped.
      if (!this.#isUnresponsive(this.#resolve(url))) this.prefer(url);
    } catch {
      // keep the member we have
    }
  }

  /** Pass `url` over in {@link rotate} for `forMs` after it failed to answer. */
  markUnresponsive(url: string, forMs = UNRESPONSIVE_MEMBER_SKIP_MS): void {
    this.#unresponsiveUntilMs.set(url, performance.now() + forMs);
  }

  /**
   * Move to the next member after a failure, passing over those marked unresponsive (unless every
   * other one is).
   */
  rotate(failed: string): void {
    if (this.preferred !== failed) return;
    const count = this.#urls.length;
    for (let step = 1; step <= count; step++) {
      const candidate = (this.#preferred + step) % count;
      if (step === count || !this.#isUnresponsive(this.#urls[candidate]!)) {
        this.#preferred = step === count ? (this.#preferred + 1) % count : candidate;
        return;
      }
    }
  }

  #isUnresponsive(url: string): boolean {
    const until = this.#unresponsiveUntilMs.get(url);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.#unresponsiveUntilMs.delete(url);
    return false;
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
    const deadline = deadlineSignal(timeoutMs);
    try {
      const answer = await this.#pool(url).request({
        path,
        method,
        headers: body === undefined ? this.#plainHeaders : this.#jsonHeaders,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        // undici's headers and body timeouts run on its coarse timers (half-second ticks), so a
        // short deadline, such as a lease keeper's renewal, could end up to a second late: a
        // native timer bounds the whole exchange, reading the answer included.
        signal: deadline.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const memberId = answer.headers[MEMBER_ID_HEADER];
      if (typeof memberId === 'string') this.#memberIds.set(url, memberId);
      const leaderUrl = answer.headers[LEADER_URL_HEADER];
      if (typeof leaderUrl === 'string') this.#followLeader(leaderUrl);
      const type = answer.headers['content-type'];
      const json = typeof type === 'string' && type.startsWith('application/json');
      return {
        status: answer.statusCode,
        body: json ? await answer.body.json() : await answer.body.arrayBuffer(),
      };
    } catch (error) {
      const code = (error as { code?: string }).code;
      const message = `cannot reach ${url}: ${(error as Error).message}`;
      if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'UND_ERR_CONNECT_TIMEOUT') {
        throw new NotSentError('SKEIN_UNAVAILABLE', message, { cause: error });
      }
      throw new SkeinError('SKEIN_UNAVAILABLE', `${message}; the request may or may not have been applied`, {
        cause: error,
      });
    } finally {
      deadline.clear();
    }
  }

  /**
   * A streaming POST (watch): the caller reads and closes the body. `idleTimeoutMs` > 0 fails the
   * stream when no byte arrives for that long (the server's heartbeats keep a quiet stream alive);
   * 0 lets a stream idle for ever.
   */
  async stream(
    url: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
    idleTimeoutMs = 0,
  ): Promise<Dispatcher.ResponseData> {
    return this.#pool(url).request({
      path,
      method: 'POST',
      headers: this.#jsonHeaders,
      body: JSON.stringify(body),
      signal,
      headersTimeout:
        idleTimeoutMs > 0
          ? Math.min(idleTimeoutMs, this.#options.requestTimeoutMs)
          : this.#options.requestTimeoutMs,
      bodyTimeout: idleTimeoutMs,
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
