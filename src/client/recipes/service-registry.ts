/**
 * Service discovery on any CoordinationStore — what shoveling used Consul's catalog and TTL checks
 * for. Each instance is one key, `<prefix>/<service>/<id>`, holding its address and metadata as
 * JSON, bound to a lease its process keeps alive: the TTL check. When the process stops renewing
 * (crash, hang, partition), the lease expires within its TTL and the instance disappears from
 * `list()` and from every `watch()`.
 */
import { SkeinError } from '../../core/errors.ts';
import { KvErrorCode } from '../../kv/errors.ts';
import type { KeyValue } from '../../kv/types.ts';
import { keepLease, type KeepLeaseOptions, type LeaseHandle } from '../lease-keeper.ts';
import type { CoordinationStore } from '../types.ts';
import { LostEvent, type LostListener } from './errors.ts';
import { watchPrefix, type PrefixView } from './prefix-view.ts';

export interface ServiceInstance {
  readonly service: string;
  readonly id: string;
  /** Where to reach it, e.g. `10.0.0.7:8080`. */
  readonly address: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Revision at which it (re)registered or last updated. */
  readonly modRevision: number;
}

export interface RegisterOptions {
  readonly service: string;
  readonly id: string;
  readonly address: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /** The TTL check: the instance vanishes this long after its process stops renewing. Default 10 s. */
  readonly ttlSeconds?: number;
  /** Passed to the lease keeper (renew interval, clock, ...). */
  readonly keeper?: Omit<KeepLeaseOptions, 'ttlSeconds'>;
  /**
   * Register on this lease instead of granting one (e.g. one lease for all of a process's
   * instances). `ttlSeconds` and `keeper` are then ignored, and deregister() deletes only the key.
   */
  readonly lease?: LeaseHandle;
}

export interface Registration {
  readonly instance: Omit<ServiceInstance, 'modRevision'>;
  readonly leaseId: number;
  /** The lease is gone: the instance is no longer listed. Register again to come back. Fires once. */
  on(event: 'lost', listener: LostListener): this;
  /** Replace the metadata (same lease). */
  update(metadata: Readonly<Record<string, string>>): Promise<void>;
  /** Remove the instance now (revokes its own lease, or deletes the key on a shared one). Idempotent. */
  deregister(): Promise<void>;
}

export interface ServiceRegistry {
  register(options: RegisterOptions): Promise<Registration>;
  /** The live instances of `service`, by id. */
  list(service: string): Promise<ServiceInstance[]>;
  /** Call `onChange` with the live instances now and after every change. */
  watch(
    service: string,
    onChange: (instances: ServiceInstance[]) => void,
    onError?: (error: Error) => void,
  ): Promise<PrefixView>;
}

export const defaultRegistryPrefix = 'skein/services';
const defaultInstanceTtlSeconds = 10;

export function serviceRegistry(store: CoordinationStore, prefix = defaultRegistryPrefix): ServiceRegistry {
  const servicePrefix = (service: string): string => `${prefix}/${checkName('service', service)}/`;
  return {
    async register(options) {
      const key = `${servicePrefix(options.service)}${checkName('id', options.id)}`;
      const instance = {
        service: options.service,
        id: options.id,
        address: options.address,
        metadata: { ...options.metadata },
      };
      const ownsLease = options.lease === undefined;
      const lease =
        options.lease ??
        (await keepLease(store, {
          ...options.keeper,
          ttlSeconds: options.ttlSeconds ?? defaultInstanceTtlSeconds,
        }));
      const write = (metadata: Readonly<Record<string, string>>) =>
        store.put({ key, value: JSON.stringify({ address: options.address, metadata }), lease: lease.id });
      const remove = async (): Promise<void> => {
        if (ownsLease) await lease.revoke();
        else await store.deleteRange({ key });
      };
      try {
        await write(instance.metadata);
      } catch (error) {
        if (ownsLease) await lease.revoke().catch(() => undefined);
        throw error;
      }
      const lost = new LostEvent();
      lease.on('lost', (reason) => lost.fire(reason));
      const registration: Registration = {
        instance,
        leaseId: lease.id,
        on(_event, listener) {
          lost.on(listener);
          return registration;
        },
        async update(metadata) {
          instance.metadata = { ...metadata };
          await write(instance.metadata);
        },
        deregister: remove,
      };
      return registration;
    },

    async list(service) {
      const response = await store.range({ key: servicePrefix(service), prefix: true });
      return response.kvs.map((kv) => toInstance(service, kv));
    },

    watch(service, onChange, onError) {
      const keyPrefix = servicePrefix(service);
      return watchPrefix(
        store,
        keyPrefix,
        (keys) => {
          onChange([...keys.values()].map((kv) => toInstance(service, kv)).sort(byId));
        },
        onError,
      );
    },
  };
}

function checkName(what: string, name: string): string {
  if (name === '' || name.includes('/')) {
    throw new SkeinError(
      KvErrorCode.InvalidArgument,
      `service ${what} '${name}' must be non-empty and without '/'`,
    );
  }
  return name;
}

function toInstance(service: string, kv: KeyValue): ServiceInstance {
  const id = kv.key.slice(kv.key.lastIndexOf('/') + 1);
  let parsed: { address?: unknown; metadata?: unknown } = {};
  try {
    parsed = JSON.parse(kv.value) as typeof parsed;
  } catch {
    // Not written by register(): list it with what we can tell (its key).
  }
  return {
    service,
    id,
    address: typeof parsed.address === 'string' ? parsed.address : '',
    metadata: isStringRecord(parsed.metadata) ? parsed.metadata : {},
    modRevision: kv.modRevision,
  };
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value as Record<string, unknown>).every((v) => typeof v === 'string')
  );
}

const byId = (a: ServiceInstance, b: ServiceInstance): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
