/** Bounds of the key-value store. Every member must run with the same limits: they decide errors. */
export interface KvLimits {
  /** Longest key (and range end), in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value, in UTF-8 bytes. */
  maxValueBytes: number;
  /** Most compares, and most operations per branch, in one transaction (as etcd's --max-txn-ops). */
  maxTxnOps: number;
  /** Most live keys; a put that would create one more fails with SKEIN_KV_FULL. */
  maxKeys: number;
  /** Most leases; a grant beyond it fails with SKEIN_KV_FULL. */
  maxLeases: number;
  /** Longest lease TTL, in seconds (etcd's MaxLeaseTTL). */
  maxLeaseTtlSeconds: number;
}

export const KvDefaults: KvLimits = {
  maxKeyBytes: 4096,
  maxValueBytes: 1_048_576,
  maxTxnOps: 128,
  maxKeys: 1_000_000,
  maxLeases: 1_000_000,
  maxLeaseTtlSeconds: 9_000_000_000,
};

/** Most members `member-publish` keeps; a coordination cluster is a handful of voters. */
export const MAX_MEMBERS = 1024;
/** Longest member id, name or client URL, in UTF-16 code units. */
export const MAX_MEMBER_FIELD_LENGTH = 1024;
