import { SkeinError } from '../core/errors.ts';
import type {
  CompactResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  LeaseGrantResponse,
  LeaseInfo,
  LeaseKeepAliveResponse,
  LeaseRevokeResponse,
  MemberInfo,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  WatchRequest,
} from '../kv/types.ts';
import { KvPaths } from '../kv/rpc-protocol.ts';
import { WATCH_HEARTBEAT_LIMITS_MS } from '../kv/types.ts';
import type { GroupJoinRequest, GroupSummary, GroupView, MemberStatus } from '../membership/index.ts';
import { Endpoints, NotSentError } from './http-endpoints.ts';
import { HttpWatch } from './http-watch.ts';
import { discoverLeader } from './leader-discovery.ts';
import { checkMsOption } from './ms-option.ts';
import type {
  CoordinationStore,
  KeepAliveOptions,
  ReadOptions,
  WatchCallbacks,
  WatchHandle,
} from './types.ts';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Client URLs of one or more members, e.g. `['http://127.0.0.1:8420']`. */
  readonly endpoints: string | readonly string[];
  /** Bearer token, when the server runs with --auth-token-file. */
  readonly token?: string;
  /** Per-request deadline, retries included. Default 10000. */
  readonly requestTimeoutMs?: number;
  /** Sockets per member (the server answers one request per socket at a time). Default 64. */
  readonly connectionsPerEndpoint?: number;
  /** For https:// endpoints signed by a private CA. */
  readonly tls?: { readonly ca?: string | Buffer };
  /**
   * Send kv requests (put, range, delete, txn, compact) over the RPC channel: one upgraded
   * connection per member, framed JSON, many requests in flight (docs/http-api.md). Same answers
   * and errors as over HTTP, less latency and CPU per request (measured in docs/http-api.md).
   * Default true; false sends everything over plain HTTP.
   */
  readonly rpc?: boolean;
  /**
   * A watch stream that delivers nothing for this long is abandoned and resumed on the next member
   * from its last revision (nothing lost or repeated). Members send a heartbeat every third of it
   * on a quiet stream, so only a member that stopped answering with its connection open (paused,
   * cut off) goes this silent. Default 6000; at least 300 (a heartbeat is at least 100 ms apart);
   * 0 lets a stream stay silent for ever.
   */
  readonly watchIdleTimeoutMs?: number;
  /**
   * A request that is safe to repeat gives up on a member after this long, while another member is
   * left to ask, and is retried there; each further attempt may take twice as long, and no attempt
   * runs past `requestTimeoutMs`. A member that stopped answering with its connection open (paused,
   * cut off) then costs a read this long, not its whole deadline. Writes are never cut short (they
   * may have been applied), nor are snapshot downloads. Default 2000; 0: every attempt may take
   * the whole deadline.
   */
  readonly attemptTimeoutMs?: number;
  /**
   * Refresh the endpoint list from the members' published client URLs this often (etcd's
   * `AutoSyncInterval`), so that a long-lived client follows members that were added or replaced
   * and drops discovered ones that were removed; the configured endpoints always stay. Default
   * 60000; 0: keep the list as given (plus the leaders it learns of).
   */
  readonly autoSyncIntervalMs?: number;
}

/**
 * Error codes after which the member did not apply the request (so any request may be retried).
 * SKEIN_NO_LEADER: the member had no leader to propose to, so nothing was proposed (etcd's client
 * retries writes on "no leader" for the same reason). SKEIN_NOT_LEADER: every place in skein that
 * refuses a write with it does so before proposing (a forwarded request that reached a member no
 * longer leading, a proposal fenced to a term that is over), or once another entry committed in
 * its place (a membership change), so the write never took effect.
 */
const NOT_APPLIED = new Set(['SKEIN_STOPPED', 'SKEIN_NO_LEADER', 'SKEIN_NOT_LEADER']);
/** Error codes that mean "ask another member" for a request that is safe to repeat. */
const TRY_ELSEWHERE = new Set([
  'SKEIN_NO_LEADER',
  'SKEIN_NOT_LEADER',
  'SKEIN_UNAVAILABLE',
  'SKEIN_STOPPED',
  'SKEIN_TIMEOUT',
  'SKEIN_NOT_MEMBER',
  'SKEIN_LEADERSHIP_TRANSFER_IN_PROGRESS',
]);

/**
 * Connect to a skein coordination cluster. The client sends requests to the leader when it
 * knows it (one hop fewer for writes), fails over between endpoints, and retries only what is
 * safe: reads, keepalives and watches always; writes only when the request provably never reached
 * a member. A write that failed in flight rejects with SKEIN_UNAVAILABLE or SKEIN_TIMEOUT ("may or
 * may not have been applied"), as with etcd: use a transaction to make it idempotent.
 */
export async function connect(options: ConnectOptions): Promise<SkeinClient> {
  const client = new SkeinClient(options);
  await client.refreshLeader();
  return client;
}

/** A skein coordination client; implements {@link CoordinationStore}. */
export class SkeinClient implements CoordinationStore {
  readonly backend = 'skein' as const;
  readonly #endpoints: Endpoints;
  readonly #timeoutMs: number;
  readonly #watchIdleTimeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #autoSync: NodeJS.Timeout | null;
  readonly #watches = new Set<HttpWatch>();
  #refreshing: Promise<void> | null = null;

  constructor(options: ConnectOptions) {
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    // A watch must have room for three heartbeats at the shortest spacing a member accepts.
    checkMsOption('watchIdleTimeoutMs', options.watchIdleTimeoutMs, {
      least: 3 * WATCH_HEARTBEAT_LIMITS_MS.min,
      zeroMeans: 'never',
    });
    checkMsOption('attemptTimeoutMs', options.attemptTimeoutMs, {
      least: 1,
      zeroMeans: 'no per-attempt bound',
    });
    checkMsOption('autoSyncIntervalMs', options.autoSyncIntervalMs, { least: 1000, zeroMeans: 'never' });
    this.#watchIdleTimeoutMs = options.watchIdleTimeoutMs ?? 6000;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 2000;
    const syncEveryMs = options.autoSyncIntervalMs ?? 60_000;
    this.#endpoints = new Endpoints({
      endpoints: typeof options.endpoints === 'string' ? [options.endpoints] : options.endpoints,
      token: options.token,
      connectionsPerEndpoint: options.connectionsPerEndpoint ?? 64,
      requestTimeoutMs: this.#timeoutMs,
      rpc: options.rpc ?? true,
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
    });
    this.#autoSync =
      syncEveryMs === 0
        ? null
        : setInterval(() => {
            // Best effort: a cluster without a leader answers later, and the list stays as it is.
            this.syncEndpoints().catch(() => undefined);
          }, syncEveryMs).unref();
  }

  /** Where requests go first right now. */
  get endpoint(): string {
    return this.#endpoints.preferred;
  }

  /** Every member URL this client may send to now (configured, discovered and synced). */
  get endpoints(): readonly string[] {
    return [...this.#endpoints.urls];
  }

  async get(key: string, options: ReadOptions = {}): Promise<KeyValue | null> {
    const answer = await this.range({ key }, options);
    return answer.kvs[0] ?? null;
  }

  range(request: RangeRequest, options: ReadOptions = {}): Promise<RangeResponse> {
    const body = options.serializable === true ? { ...request, serializable: true } : request;
    return this.#call(KvPaths.range, body, true) as Promise<RangeResponse>;
  }

  put(request: PutRequest): Promise<PutResponse> {
    return this.#call(KvPaths.put, request, false) as Promise<PutResponse>;
  }

  deleteRange(request: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.#call(KvPaths.delete, request, false) as Promise<DeleteRangeResponse>;
  }

  txn(request: TxnRequest): Promise<TxnResponse> {
    const readOnly = [...request.success, ...request.failure].every((op) => 'range' in op);
    return this.#call(KvPaths.txn, request, readOnly) as Promise<TxnResponse>;
  }

  grantLease(ttlSeconds: number): Promise<LeaseGrantResponse> {
    return this.#call('/v1/lease/grant', { ttlSeconds }, false) as Promise<LeaseGrantResponse>;
  }

  keepAliveOnce(id: number, options: KeepAliveOptions = {}): Promise<LeaseKeepAliveResponse> {
    return this.#call(
      '/v1/lease/keepalive',
      { id },
      true,
      options.timeoutMs,
    ) as Promise<LeaseKeepAliveResponse>;
  }

  /** Revoking twice is harmless (the second gets SKEIN_LEASE_NOT_FOUND), so it is retried like a read. */
  revokeLease(id: number): Promise<LeaseRevokeResponse> {
    return this.#call('/v1/lease/revoke', { id }, true) as Promise<LeaseRevokeResponse>;
  }

  async leaseTimeToLive(id: number): Promise<LeaseInfo | null> {
    try {
      return (await this.#call('/v1/lease/timetolive', { id, keys: true }, true)) as LeaseInfo;
    } catch (error) {
      if (error instanceof SkeinError && error.code === 'SKEIN_LEASE_NOT_FOUND') return null;
      throw error;
    }
  }

  async listLeases(): Promise<{ id: number; grantedTtlSeconds: number }[]> {
    const answer = (await this.#call('/v1/lease/list', {}, true)) as {
      leases: { id: number; grantedTtlSeconds: number }[];
    };
    return answer.leases;
  }

  async watch(request: WatchRequest, callbacks: WatchCallbacks): Promise<WatchHandle> {
    const watch = new HttpWatch(this.#endpoints, request, callbacks, {
      idleTimeoutMs: this.#watchIdleTimeoutMs,
    });
    try {
      await watch.start();
    } catch (error) {
      // As on the etcd backend: a start revision already compacted ends the watch through onError.
      if (
        !(error instanceof SkeinError) ||
        error.code !== 'SKEIN_COMPACTED' ||
        callbacks.onError === undefined
      ) {
        throw error;
      }
      callbacks.onError(error);
    }
    // A watch that ended at once (compacted start) has nothing left for close() to cancel.
    if (!watch.ended) this.#watches.add(watch);
    return {
      get lastRevision() {
        return watch.lastRevision;
      },
      cancel: async () => {
        this.#watches.delete(watch);
        await watch.cancel();
      },
    };
  }

  compact(revision: number): Promise<CompactResponse> {
    return this.#call(KvPaths.compact, { revision }, true) as Promise<CompactResponse>;
  }

  status(): Promise<StatusResponse> {
    return this.#call('/v1/status', undefined, true) as Promise<StatusResponse>;
  }

  async members(): Promise<MemberInfo[]> {
    return ((await this.#call('/v1/members', undefined, true)) as { members: MemberInfo[] }).members;
  }

  /** Add a member (a learner first, promoted once caught up, unless `learner` keeps it one). */
  async addMember(name: string, peerAddress: string, learner = false): Promise<MemberInfo[]> {
    return (
      (await this.#call('/v1/members', { name, peerAddress, learner }, false)) as { members: MemberInfo[] }
    ).members;
  }

  async removeMember(name: string): Promise<MemberInfo[]> {
    return (
      (await this.#call(`/v1/members/${encodeURIComponent(name)}`, DELETE, false)) as {
        members: MemberInfo[];
      }
    ).members;
  }

  async promoteMember(name: string): Promise<MemberInfo[]> {
    return (
      (await this.#call(`/v1/members/${encodeURIComponent(name)}/promote`, {}, false)) as {
        members: MemberInfo[];
      }
    ).members;
  }

  /**
   * Join a group (skein/membership) under a live lease. Most code wants `joinGroup` from
   * skein/membership, which also heartbeats and re-joins; this is the single request.
   */
  joinGroupMember(request: GroupJoinRequest): Promise<MemberStatus> {
    // Repeating a join with the same session changes nothing, so it is safe to retry.
    return this.#call('/v1/groups/join', request, true) as Promise<MemberStatus>;
  }

  /** Keep a member's session alive and learn its place; fails with SKEIN_MEMBERSHIP_NOT_MEMBER or SKEIN_LEASE_NOT_FOUND once it lost it. */
  groupHeartbeat(
    request: { group: string; member: string; session: number },
    timeoutMs?: number,
  ): Promise<MemberStatus> {
    return this.#call('/v1/groups/heartbeat', request, true, timeoutMs) as Promise<MemberStatus>;
  }

  /** Remove a member from a group now (its lease stays; revoke it to end the session too). */
  async leaveGroup(group: string, member: string): Promise<void> {
    await this.#call('/v1/groups/leave', { group, member }, false);
  }

  /** A group with its members in join order, or null when it has none. */
  async getGroup(group: string, options: ReadOptions = {}): Promise<GroupView | null> {
    try {
      return (await this.#call('/v1/groups/get', { group, ...options }, true)) as GroupView;
    } catch (error) {
      if (error instanceof SkeinError && error.code === 'SKEIN_MEMBERSHIP_GROUP_NOT_FOUND') return null;
      throw error;
    }
  }

  /** Every group that has members. */
  async listGroups(options: ReadOptions = {}): Promise<GroupSummary[]> {
    return ((await this.#call('/v1/groups/list', { ...options }, true)) as { groups: GroupSummary[] }).groups;
  }

  /** A point-in-time backup of the store (the bytes of `skein snapshot save`). */
  async snapshot(): Promise<Buffer> {
    return Buffer.from((await this.#call('/v1/snapshot', {}, true)) as ArrayBuffer);
  }

  /**
   * Make the endpoint list the configured endpoints plus the client URLs the members have
   * published (`members()`), and return it; members that have not published one yet are left out.
   * Runs every `autoSyncIntervalMs` by itself.
   */
  async syncEndpoints(): Promise<readonly string[]> {
    this.#endpoints.sync((await this.members()).filter((m) => m.clientUrl !== ''));
    return this.endpoints;
  }

  async close(): Promise<void> {
    if (this.#autoSync !== null) clearInterval(this.#autoSync);
    await Promise.all([...this.#watches].map((w) => w.cancel()));
    this.#watches.clear();
    await this.#endpoints.close();
  }

  /** Ask the members who leads and prefer the leader's client URL (see {@link discoverLeader}). */
  refreshLeader(): Promise<void> {
    this.#refreshing ??= discoverLeader(this.#endpoints, Math.min(this.#timeoutMs, 2000))
      .then((url) => {
        if (url !== null) this.#endpoints.prefer(url);
      })
      .finally(() => {
        this.#refreshing = null;
      });
    return this.#refreshing;
  }

  /**
   * Send to the preferred member; on failure fail over. `retryable`: the request may be repeated
   * (it is a read, or repeating it has the same effect).
   */
  async #call(
    path: string,
    body: unknown,
    retryable: boolean,
    timeoutMs = this.#timeoutMs,
  ): Promise<unknown> {
    const deadline = Date.now() + Math.ceil(timeoutMs);
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      const url = this.#endpoints.preferred;
      try {
        const method = body === DELETE ? 'DELETE' : body === undefined ? 'GET' : 'POST';
        const payload = body === DELETE ? undefined : body;
        const remainingMs = Math.max(1, deadline - Date.now());
        const answer = await this.#endpoints.send(
          url,
          method,
          path,
          payload,
          retryable ? this.#attemptBoundMs(path, attempt, remainingMs) : remainingMs,
        );
        if (answer.status === 200) return answer.body;
        const error = errorOf(answer);
        if (!TRY_ELSEWHERE.has(error.code) || !(retryable || NOT_APPLIED.has(error.code))) throw error;
        lastError = error;
      } catch (error) {
        if (!(error instanceof SkeinError) || error.code !== 'SKEIN_UNAVAILABLE') throw error;
        // No connection or no answer in time: try the others first for a while.
        this.#endpoints.markUnresponsive(url);
        if (!retryable && !(error instanceof NotSentError)) throw error;
        lastError = error;
      }
      this.#endpoints.rotate(url);
      if (Date.now() + backoffMs(attempt) >= deadline) throw lastError;
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
      // Within this request's deadline: a refresh started for a longer one may take longer.
      await untilOrAfter(this.refreshLeader(), deadline - Date.now());
    }
  }

  /** How long attempt number `attempt` of a retryable request may wait for its member. */
  #attemptBoundMs(path: string, attempt: number, remainingMs: number): number {
    if (this.#attemptTimeoutMs === 0 || UNBOUNDED_ATTEMPTS.has(path) || this.#endpoints.urls.length < 2)
      return remainingMs;
    return Math.min(remainingMs, Math.ceil(this.#attemptTimeoutMs * 2 ** Math.min(attempt, 16)));
  }
}

/** Retryable requests whose answer may take long to transfer: one attempt may use the whole deadline. */
const UNBOUNDED_ATTEMPTS = new Set(['/v1/snapshot']);

/** `promise`, or nothing after `ms`, whichever comes first. */
async function untilOrAfter(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, ms));
    }),
  ]);
  clearTimeout(timer);
}

/** Marks a DELETE request in #call (GET has no body, POST has one). */
const DELETE = Symbol('DELETE');

function backoffMs(attempt: number): number {
  return Math.min(25 * 2 ** attempt, 1000);
}

function errorOf(answer: { status: number; body: unknown }): SkeinError {
  const e = (
    answer.body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } }
  ).error;
  return new SkeinError(
    e?.code ?? 'SKEIN_UNAVAILABLE',
    e?.message ?? `member answered HTTP ${answer.status}`,
    e?.details === undefined ? {} : { details: e.details },
  );
}
