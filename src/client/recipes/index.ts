/** Coordination recipes that work on any CoordinationStore (skein or etcd). See docs/client.md. */
export { lock, defaultLockPrefix, type Lock, type LockOptions } from './lock.ts';
export {
  election,
  defaultElectionPrefix,
  type Election,
  type ElectionOptions,
  type Leader,
} from './election.ts';
export {
  serviceRegistry,
  defaultRegistryPrefix,
  type RegisterOptions,
  type Registration,
  type ServiceInstance,
  type ServiceRegistry,
} from './service-registry.ts';
export { watchPrefix, type PrefixListener, type PrefixView } from './prefix-view.ts';
export { RecipeErrorCode, type LostListener } from './errors.ts';
export type { SessionOptions } from './session.ts';
