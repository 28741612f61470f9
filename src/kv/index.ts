/**
 * skein/kv: the replicated MVCC key-value state machine behind the coordination service — etcd v3's
 * data model (revisions, versions, tombstones, transactions, leases, compaction, watch events) as
 * deterministic Raft processors plus local reads. See docs/kv.md.
 * @packageDocumentation
 */
export { KvStore, type ChangeListener } from './store.ts';
export { KvDefaults, type KvLimits } from './limits.ts';
export {
  validatePut,
  validateRange,
  validateDeleteRange,
  validateTxn,
  validateCompact,
  validateLeaseGrant,
  validateLeaseRevoke,
  validateMemberPublish,
  type LeaseGrantCommand,
  type LeaseRevokeCommand,
  type MemberPublishCommand,
} from './validate.ts';
export { compareCodePoints as compareKeys } from './key-order.ts';
export { selects, isSingleKey, RANGE_END_ALL } from './selector.ts';
export { KvErrorCode, kvError } from './errors.ts';
export type * from './types.ts';
