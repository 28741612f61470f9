/**
 * Where the backends differ, as the suite encodes it. Each entry is listed in docs/client.md
 * ("Differences between backends"); skein's values are its documented semantics (src/kv/types.ts).
 */
export interface BackendExpectations {
  /**
   * grantLease(1) may return a larger TTL: etcd raises every TTL to its minimum,
   * ceil(1.5 × election timeout) — 2 s with etcd's default 1 s election timeout (1 s in our test
   * cluster, which runs a 500 ms election timeout). skein grants what was asked.
   */
  readonly leaseTtlMayBeRaised: boolean;
  /**
   * A deleted key's watch event: etcd reports createRevision 0, version 0 and lease 0 (a
   * tombstone). The contract only fixes key, value '' and modRevision, so the suite checks those on
   * both and these zeros only where the backend promises them.
   */
  readonly deleteEventZeroesFields: boolean;
  /**
   * A compare on the *value* of a missing key is always false in etcd (it cannot tell a missing
   * value from ''), though version/createRevision/modRevision/lease compare as 0. skein treats a
   * missing key's value as '' (src/kv/types.ts), so `value = ''` holds there.
   */
  readonly valueCompareOnMissingKeyFails: boolean;
}

export const expectations: Record<'skein' | 'etcd', BackendExpectations> = {
  skein: { leaseTtlMayBeRaised: false, deleteEventZeroesFields: false, valueCompareOnMissingKeyFails: false },
  etcd: { leaseTtlMayBeRaised: true, deleteEventZeroesFields: true, valueCompareOnMissingKeyFails: true },
};
