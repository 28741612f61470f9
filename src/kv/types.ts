/**
 * The data model of skein/kv, shared by the replicated store, the HTTP API, skein/client and the
 * etcd backend of `CoordinationStore`. It follows etcd v3 closely so that one conformance suite can
 * run against both; where it differs (keys and values are UTF-8 strings, lease TTLs are whole
 * seconds, lease ids are allocated by the store) docs/kv.md says so.
 *
 * Revisions: the store has one global revision that increases by exactly one for every write
 * (put, delete that deleted something, a transaction that wrote, a lease revoke that deleted keys).
 * A transaction's writes all share its revision.
 */

/** One version of a key. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Revision of the write that created this key (since its last delete). */
  readonly createRevision: number;
  /** Revision of the last write to this key. */
  readonly modRevision: number;
  /** Writes to this key since it was created; 1 after the first put. */
  readonly version: number;
  /** Lease the key is attached to; 0 when none. */
  readonly lease: number;
}

/**
 * Which keys a request touches: one key, every key with a prefix, or the half-open interval
 * [key, rangeEnd). `rangeEnd: '\0'` means "every key ≥ key" (etcd's convention).
 */
export interface KeySelector {
  readonly key: string;
  /** Every key that starts with `key`. Cannot be combined with `rangeEnd`. */
  readonly prefix?: boolean;
  /** Exclusive end of the range. */
  readonly rangeEnd?: string;
}

export interface RangeRequest extends KeySelector {
  /** At most this many keys (0: no limit). `more` tells whether there were others. */
  readonly limit?: number;
  /** Read as of this revision (0: current). Fails with SKEIN_COMPACTED below the compaction point. */
  readonly revision?: number;
  /** Return keys without values. */
  readonly keysOnly?: boolean;
  /** Return only the count. */
  readonly countOnly?: boolean;
}

export interface RangeResponse {
  readonly kvs: readonly KeyValue[];
  /** Keys in the range (ignoring `limit`). */
  readonly count: number;
  /** True when `limit` cut the result. */
  readonly more: boolean;
  /** The store's revision when the read was served. */
  readonly revision: number;
}

export interface PutRequest {
  readonly key: string;
  readonly value: string;
  /** Attach the key to this lease (0 or absent: none). The lease must exist. */
  readonly lease?: number;
  /** Return the previous version in `prevKv`. */
  readonly prevKv?: boolean;
}

export interface PutResponse {
  readonly revision: number;
  readonly prevKv?: KeyValue;
}

export interface DeleteRangeRequest extends KeySelector {
  readonly prevKv?: boolean;
}

export interface DeleteRangeResponse {
  readonly revision: number;
  /** Keys deleted. */
  readonly deleted: number;
  readonly prevKvs?: readonly KeyValue[];
}

/** What a compare looks at. A missing key has value '', version 0, createRevision 0, modRevision 0, lease 0. */
export const CompareTarget = {
  Value: 'value',
  Version: 'version',
  CreateRevision: 'createRevision',
  ModRevision: 'modRevision',
  Lease: 'lease',
} as const;
export type CompareTarget = (typeof CompareTarget)[keyof typeof CompareTarget];

export const CompareOp = { Equal: '=', NotEqual: '!=', Less: '<', Greater: '>' } as const;
export type CompareOp = (typeof CompareOp)[keyof typeof CompareOp];

/** `target(key) op value`; `value` is a string for `value` and a number for the others. */
export interface Compare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly op: CompareOp;
  readonly value: string | number;
}

/** One operation of a transaction branch. */
export type TxnOp =
  | { readonly put: PutRequest }
  | { readonly range: RangeRequest }
  | { readonly deleteRange: DeleteRangeRequest };

export type TxnOpResponse =
  | { readonly put: PutResponse }
  | { readonly range: RangeResponse }
  | { readonly deleteRange: DeleteRangeResponse };

/**
 * If every compare holds, run `success`, else `failure`, atomically at one revision. A key may be
 * written at most once per transaction (as in etcd).
 */
export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

export interface TxnResponse {
  readonly succeeded: boolean;
  readonly revision: number;
  readonly responses: readonly TxnOpResponse[];
}

export interface LeaseGrantRequest {
  /** Time to live in whole seconds (1 .. maxLeaseTtlSeconds). */
  readonly ttlSeconds: number;
}

export interface LeaseGrantResponse {
  readonly id: number;
  readonly ttlSeconds: number;
  readonly revision: number;
}

export interface LeaseRevokeResponse {
  readonly revision: number;
}

export interface LeaseKeepAliveResponse {
  readonly id: number;
  /** The TTL the lease was renewed to. */
  readonly ttlSeconds: number;
}

export interface LeaseInfo {
  readonly id: number;
  /** The TTL it was granted with. */
  readonly grantedTtlSeconds: number;
  /** Seconds left before the leader expires it (as the answering leader sees it); -1 when unknown. */
  readonly ttlSeconds: number;
  readonly keys: readonly string[];
}

export interface CompactRequest {
  /** Forget history before this revision; reads and watches below it fail with SKEIN_COMPACTED. */
  readonly revision: number;
}

export interface CompactResponse {
  readonly revision: number;
}

export const EventType = { Put: 'put', Delete: 'delete' } as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** One change seen by a watch. For a delete, `kv` has the key, an empty value and the delete's modRevision. */
export interface WatchEvent {
  readonly type: EventType;
  readonly kv: KeyValue;
  /** The version before this change, when the watch asked for it and history still has it. */
  readonly prevKv?: KeyValue;
}

export interface WatchRequest extends KeySelector {
  /** First revision to deliver (0: changes after the current revision). */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  /** Send `{ events: [], progress: true }` with the current revision while the watch is idle. */
  readonly progressNotify?: boolean;
}

/** A batch of events, all at revisions ≤ `revision`, in revision order. */
export interface WatchResponse {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
  /** A progress notification: nothing changed in the range up to `revision`. */
  readonly progress?: boolean;
}

/** One member of the coordination cluster as the API reports it. */
export interface MemberInfo {
  readonly id: string;
  readonly name: string;
  readonly peerUrl: string;
  /** Where clients reach it; '' until the member has published it. */
  readonly clientUrl: string;
  readonly learner: boolean;
}

/**
 * HTTP response header by which a member that does not lead names the leader's client URL, so
 * that clients move their requests there (a write sent to a follower costs one more hop).
 */
export const LEADER_URL_HEADER = 'skein-leader';

/**
 * HTTP response header with the id of the member that answered (as in `/v1/members`), so that a
 * client can tell that two URLs (`localhost:8420` and `127.0.0.1:8420`) reach one member.
 */
export const MEMBER_ID_HEADER = 'skein-member';

/**
 * The `heartbeatMs` a watch request may ask for (POST /v1/watch): a member sends a heartbeat line
 * on a stream that was quiet that long, so a client can tell a quiet watch from a dead member.
 */
export const WATCH_HEARTBEAT_LIMITS_MS = { min: 100, max: 60_000 } as const;

export interface StatusResponse {
  readonly id: string;
  readonly name: string;
  readonly leader: string | null;
  readonly term: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly raftIndex: number;
  readonly raftAppliedIndex: number;
  /** Bytes on disk in the data directory (0 for in-memory members). */
  readonly dbSizeBytes: number;
  readonly keys: number;
  readonly leases: number;
  readonly members: readonly MemberInfo[];
  readonly version: string;
}
