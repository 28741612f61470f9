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
  WatchResponse,
} from '../kv/types.ts';

export type * from '../kv/types.ts';

/** Read consistency. `linearizable` (default) sees every write acknowledged before the read began. */
export interface ReadOptions {
  /** Serve from the answering member's local state: faster, possibly stale. Default false. */
  readonly serializable?: boolean;
}

/** Options of a lease renewal. */
export interface KeepAliveOptions {
  /**
   * Give up after this long (default: the store's request timeout). A renewal stuck on a member
   * that stopped answering (paused, partitioned) then fails in time to be retried; skein's client
   * retries on the next member. Keepers renewing every ttl / 3 want well under that.
   */
  readonly timeoutMs?: number;
}

/** A live watch. Responses arrive in revision order, without gaps or duplicates, across failovers. */
export interface WatchHandle {
  /** Revision of the last event or progress notification delivered (the resume point minus one). */
  readonly lastRevision: number;
  /** Stop watching. Idempotent. */
  cancel(): Promise<void>;
}

export interface WatchCallbacks {
  /** Called for every batch, in order. */
  readonly onResponse: (response: WatchResponse) => void;
  /**
   * Called once when the watch ends for good (then no more responses): SKEIN_COMPACTED when the
   * start revision was compacted away, or the error that made the client give up.
   */
  readonly onError?: (error: Error) => void;
}

/**
 * The coordination primitives that skein's groups, cache and actors are built on: an MVCC
 * key-value store with leases, transactions and watches. Two implementations: skein's own
 * (`connect` in skein/client) and etcd v3 (`connectEtcd`). One conformance suite runs against both;
 * docs/client.md lists every difference.
 */
export interface CoordinationStore {
  /** Which implementation this is. */
  readonly backend: 'skein' | 'etcd';
  get(key: string, options?: ReadOptions): Promise<KeyValue | null>;
  range(request: RangeRequest, options?: ReadOptions): Promise<RangeResponse>;
  put(request: PutRequest): Promise<PutResponse>;
  deleteRange(request: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  txn(request: TxnRequest): Promise<TxnResponse>;
  /** Grant a lease; keys attached to it are deleted when it expires or is revoked. */
  grantLease(ttlSeconds: number): Promise<LeaseGrantResponse>;
  /** Renew a lease once. Rejects with SKEIN_LEASE_NOT_FOUND when it is gone. */
  keepAliveOnce(id: number, options?: KeepAliveOptions): Promise<LeaseKeepAliveResponse>;
  revokeLease(id: number): Promise<LeaseRevokeResponse>;
  /** The lease, or null when it does not exist (expired, revoked, never granted). */
  leaseTimeToLive(id: number): Promise<LeaseInfo | null>;
  /** Resolves once the watch is established: every change after that point will be delivered. */
  watch(request: WatchRequest, callbacks: WatchCallbacks): Promise<WatchHandle>;
  compact(revision: number): Promise<CompactResponse>;
  /** Close connections and cancel watches. */
  close(): Promise<void>;
}
