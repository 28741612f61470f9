/**
 * skein/client: coordination clients. `connect()` talks to a skein cluster over HTTP; `connectEtcd()`
 * talks to etcd v3. Both implement {@link CoordinationStore}, on which the lease keeper and the
 * recipes (lock, election, service registry) are built. See docs/client.md.
 * @packageDocumentation
 */
export type * from './types.ts';
export { connect, SkeinClient, type ConnectOptions } from './skein-client.ts';
export { connectEtcd, type EtcdStoreOptions } from './etcd-store.ts';
export { EtcdClientErrorCode } from './etcd-errors.ts';
export type { EtcdFaultHandlingOptions } from './etcd-fault-handling.ts';
export {
  adoptLease,
  keepLease,
  LeaseKeeperErrorCode,
  type KeepLeaseOptions,
  type LeaseKeeperOptions,
  type LeaseHandle,
  type LeaseLostListener,
} from './lease-keeper.ts';
export * from './recipes/index.ts';
