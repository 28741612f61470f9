/**
 * `CoordinationStore` on etcd v3, through the etcd3 package (gRPC). Every request and response is
 * mapped field by field onto src/kv/types.ts, and every etcd error onto a SkeinError code, so code
 * written against `CoordinationStore` runs unchanged on etcd or on skein. docs/client.md lists where
 * etcd behaves differently.
 */
import { Etcd3, type IOptions } from 'etcd3';
import { SkeinError } from '../core/errors.ts';
import { KvErrorCode, kvError } from '../kv/errors.ts';
import type {
  CompactResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  LeaseGrantResponse,
  LeaseInfo,
  LeaseKeepAliveResponse,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
  WatchRequest,
} from '../kv/types.ts';
import {
  compareToEtcd,
  deleteResponseFromEtcd,
  int64ToNumber,
  keyValueFromEtcd,
  rangeResponseFromEtcd,
  rangeToEtcd,
  selectorToEtcd,
  txnOpResponseFromEtcd,
  txnOpToEtcd,
} from './etcd-codec.ts';
import { EtcdClientErrorCode, fromEtcdError } from './etcd-errors.ts';
import { faultHandling, type EtcdFaultHandlingOptions } from './etcd-fault-handling.ts';
import { LeaseIdMap } from './etcd-lease-ids.ts';
import { keepAliveOnce, probeCompactRevision } from './etcd-streams.ts';
import { EtcdWatch } from './etcd-watch.ts';
import type {
  CoordinationStore,
  KeepAliveOptions,
  ReadOptions,
  WatchCallbacks,
  WatchHandle,
} from './types.ts';

export interface EtcdStoreOptions {
  /** etcd client URLs, e.g. `http://127.0.0.1:2379` (one or several members). */
  readonly hosts: string | readonly string[];
  /** etcd user and password, when etcd has auth enabled. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** TLS: the CA certificate, and a client certificate and key for mutual TLS. */
  readonly credentials?: {
    readonly rootCertificate: Buffer;
    readonly privateKey?: Buffer;
    readonly certChain?: Buffer;
  };
  /** Deadline of a unary request (not of watches). Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** How long connectEtcd() and a new watch may try to reach etcd before failing. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Watch reconnect backoff: first delay, doubling up to the max. Defaults 50 ms and 2 s. */
  readonly watchReconnectMinMs?: number;
  readonly watchReconnectMaxMs?: number;
  /** Bound on aliases for foreign lease ids above 2^53 (see etcd-lease-ids.ts). Default 10,000. */
  readonly maxLeaseAliases?: number;
  /** Retries and failover between members (see etcd-fault-handling.ts). */
  readonly faultHandling?: EtcdFaultHandlingOptions;
  /** Extra etcd3 options, applied last (they override everything above). */
  readonly etcd3?: Partial<IOptions>;
}

const defaultRequestTimeoutMs = 10_000;
const defaultConnectTimeoutMs = 10_000;
/** How long to look for the compaction point after a SKEIN_COMPACTED (details.compactRevision). */
const compactProbeTimeoutMs = 1_000;
/** Attempts at a random lease id before giving up (a collision in 2^53 ids is already rare). */
const maxLeaseIdAttempts = 5;

/**
 * Connect to etcd. Resolves once a member answered (so a wrong address or password fails here).
 *
 * @example
 * const store = await connectEtcd({ hosts: 'http://127.0.0.1:2379' });
 * await store.put({ key: 'config/mode', value: 'fast' });
 */
export async function connectEtcd(options: EtcdStoreOptions): Promise<CoordinationStore> {
  const requestTimeoutMs = options.requestTimeoutMs ?? defaultRequestTimeoutMs;
  const client = new Etcd3({
    hosts: typeof options.hosts === 'string' ? options.hosts : [...options.hosts],
    ...(options.auth === undefined ? {} : { auth: { ...options.auth } }),
    ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
    dialTimeout: options.connectTimeoutMs ?? defaultConnectTimeoutMs,
    // Streams (watches, keep-alives) live as long as we want them; unary calls get a deadline.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
    faultHandling: faultHandling(options.faultHandling),
    ...options.etcd3,
  });
  const store = new EtcdStore(client, options);
  try {
    await client.maintenance.status();
  } catch (error) {
    client.close();
    throw fromEtcdError(error);
  }
  return store;
}

class EtcdStore implements CoordinationStore {
  readonly backend = 'etcd' as const;
  readonly #client: Etcd3;
  readonly #options: EtcdStoreOptions;
  readonly #leases: LeaseIdMap;
  readonly #watches = new Set<EtcdWatch>();
  #closed = false;

  constructor(client: Etcd3, options: EtcdStoreOptions) {
    this.#client = client;
    this.#options = options;
    this.#leases = new LeaseIdMap(options.maxLeaseAliases);
  }

  async get(key: string, options?: ReadOptions): Promise<KeyValue | null> {
    const response = await this.range({ key }, options);
    return response.kvs[0] ?? null;
  }

  async range(request: RangeRequest, options?: ReadOptions): Promise<RangeResponse> {
    const response = await this.#call(
      () => this.#client.kv.range({ ...rangeToEtcd(request), serializable: options?.serializable ?? false }),
      request,
    );
    return rangeResponseFromEtcd(response, revisionOf(response), this.#leases);
  }

  async put(request: PutRequest): Promise<PutResponse> {
    const lease = request.lease ?? 0;
    const response = await this.#call(() =>
      this.#client.kv.put({
        key: Buffer.from(request.key, 'utf8'),
        value: Buffer.from(request.value, 'utf8'),
        lease: lease === 0 ? 0 : this.#leases.toEtcd(lease),
        prev_kv: request.prevKv ?? false,
      }),
    );
    const revision = revisionOf(response);
    const prev = response.prev_kv as typeof response.prev_kv | null | undefined;
    return prev === null || prev === undefined
      ? { revision }
      : { revision, prevKv: keyValueFromEtcd(prev, this.#leases) };
  }

  async deleteRange(request: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    const response = await this.#call(() =>
      this.#client.kv.deleteRange({ ...selectorToEtcd(request), prev_kv: request.prevKv ?? false }),
    );
    return deleteResponseFromEtcd(response, revisionOf(response), request.prevKv ?? false, this.#leases);
  }

  async txn(request: TxnRequest): Promise<TxnResponse> {
    const response = await this.#call(() =>
      this.#client.kv.txn({
        compare: request.compare.map((c) => compareToEtcd(c, this.#leases)),
        success: request.success.map((op) => txnOpToEtcd(op, this.#leases)),
        failure: request.failure.map((op) => txnOpToEtcd(op, this.#leases)),
      }),
    );
    const revision = revisionOf(response);
    const branch = response.succeeded ? request.success : request.failure;
    return {
      succeeded: response.succeeded,
      revision,
      responses: response.responses.map((op, i) =>
        txnOpResponseFromEtcd(branch[i], op, revision, this.#leases),
      ),
    };
  }

  async grantLease(ttlSeconds: number): Promise<LeaseGrantResponse> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
      throw kvError(
        KvErrorCode.InvalidArgument,
        `lease ttl ${String(ttlSeconds)} is not a whole number of seconds ≥ 1`,
      );
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.#call(() =>
          this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: LeaseIdMap.randomId() }),
        );
        if (response.error !== '') throw fromEtcdError(new Error(response.error));
        return {
          id: this.#leases.fromEtcd(response.ID),
          ttlSeconds: int64ToNumber(response.TTL, 'TTL'),
          revision: revisionOf(response),
        };
      } catch (error) {
        if (
          !(error instanceof SkeinError && error.code === KvErrorCode.LeaseExists) ||
          attempt >= maxLeaseIdAttempts
        ) {
          throw error;
        }
      }
    }
  }

  async keepAliveOnce(id: number, options: KeepAliveOptions = {}): Promise<LeaseKeepAliveResponse> {
    const etcdId = this.#leases.toEtcd(id);
    const response = await this.#call(() =>
      keepAliveOnce(
        this.#client.leaseClient,
        etcdId,
        options.timeoutMs ?? this.#options.requestTimeoutMs ?? defaultRequestTimeoutMs,
      ),
    );
    // etcd answers a keep-alive for a missing lease with TTL 0 rather than an error.
    const ttlSeconds = int64ToNumber(response.TTL, 'TTL');
    if (ttlSeconds <= 0)
      throw kvError(KvErrorCode.LeaseNotFound, `lease ${String(id)} not found`, { lease: id });
    return { id, ttlSeconds };
  }

  async revokeLease(id: number): Promise<LeaseRevokeResponse> {
    const etcdId = this.#leases.toEtcd(id);
    const response = await this.#call(() => this.#client.leaseClient.leaseRevoke({ ID: etcdId }));
    return { revision: revisionOf(response) };
  }

  async leaseTimeToLive(id: number): Promise<LeaseInfo | null> {
    const etcdId = this.#leases.toEtcd(id);
    try {
      const response = await this.#call(() =>
        this.#client.leaseClient.leaseTimeToLive({ ID: etcdId, keys: true }),
      );
      const ttlSeconds = int64ToNumber(response.TTL, 'TTL');
      if (ttlSeconds < 0) return null; // etcd 3.4 reports a missing lease as TTL -1
      return {
        id,
        grantedTtlSeconds: int64ToNumber(response.grantedTTL, 'grantedTTL'),
        ttlSeconds,
        keys: response.keys.map((key) => key.toString('utf8')),
      };
    } catch (error) {
      if (error instanceof SkeinError && error.code === KvErrorCode.LeaseNotFound) return null;
      throw error;
    }
  }

  async watch(request: WatchRequest, callbacks: WatchCallbacks): Promise<WatchHandle> {
    this.#assertOpen();
    selectorToEtcd(request); // validate before anything is opened
    const watch = new EtcdWatch(request, callbacks, {
      openStream: () => this.#client.watchClient.watch(),
      leases: this.#leases,
      reconnectMinMs: this.#options.watchReconnectMinMs ?? 50,
      reconnectMaxMs: this.#options.watchReconnectMaxMs ?? 2_000,
      establishTimeoutMs: this.#options.connectTimeoutMs ?? defaultConnectTimeoutMs,
      onDone: (done) => this.#watches.delete(done),
    });
    this.#watches.add(watch);
    await watch.start();
    return watch;
  }

  async compact(revision: number): Promise<CompactResponse> {
    const response = await this.#call(() => this.#client.kv.compact({ revision, physical: false }), {
      key: '',
      revision,
    });
    return { revision: revisionOf(response) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#watches].map((watch) => watch.cancel()));
    this.#client.close();
  }

  /**
   * Run one etcd call and map its error. For SKEIN_COMPACTED, etcd does not say where history now
   * starts, so we ask (a short-lived watch below the compaction point reports it).
   */
  async #call<T>(
    run: () => Promise<T>,
    read?: { readonly key: string; readonly revision?: number },
  ): Promise<T> {
    this.#assertOpen();
    try {
      return await run();
    } catch (error) {
      const mapped = fromEtcdError(error);
      if (mapped.code !== KvErrorCode.Compacted || read?.revision === undefined) throw mapped;
      const compactRevision = await probeCompactRevision(
        () => this.#client.watchClient.watch(),
        read.revision,
        compactProbeTimeoutMs,
      );
      throw kvError(KvErrorCode.Compacted, `revision ${String(read.revision)} was compacted`, {
        revision: read.revision,
        compactRevision,
      });
    }
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new SkeinError(EtcdClientErrorCode.Closed, 'this etcd store is closed: connect again');
  }
}

function revisionOf(response: { readonly header: { readonly revision: string } }): number {
  return int64ToNumber(response.header.revision, 'header.revision');
}
