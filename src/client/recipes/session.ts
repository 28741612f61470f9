/**
 * What the lock and the election share: a lease (their own, or one the caller passes in to share
 * among several recipes), a watch on their own key that notices when it is deleted, and an
 * AbortSignal that fires when the caller gives up or the lease is lost.
 */
import type { Clock } from '../../core/clock.ts';
import type { SkeinError } from '../../core/errors.ts';
import { keepLease, type LeaseHandle } from '../lease-keeper.ts';
import type { CoordinationStore, WatchHandle } from '../types.ts';

export interface SessionOptions {
  /** Use this lease (it stays alive after unlock/resign; the caller revokes it). */
  readonly lease?: LeaseHandle;
  /** TTL of the lease granted when none is given. Default 10 s. */
  readonly ttlSeconds?: number;
  readonly clock?: Clock;
}

export const defaultSessionTtlSeconds = 10;

export interface Session {
  readonly lease: LeaseHandle;
  /** True when the session granted the lease (and so revokes it when done). */
  readonly ownsLease: boolean;
  /** Revoke an owned lease (deleting its keys); a shared one is left alone. */
  end(): Promise<void>;
}

export async function openSession(store: CoordinationStore, options: SessionOptions): Promise<Session> {
  if (options.lease !== undefined) {
    return { lease: options.lease, ownsLease: false, end: () => Promise.resolve() };
  }
  const lease = await keepLease(store, {
    ttlSeconds: options.ttlSeconds ?? defaultSessionTtlSeconds,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return { lease, ownsLease: true, end: () => lease.revoke() };
}

/** Call `onDeleted` once when `key` is deleted after `afterRevision`, or the watch fails. */
export async function watchOwnKey(
  store: CoordinationStore,
  key: string,
  afterRevision: number,
  onGone: (error?: Error) => void,
): Promise<WatchHandle> {
  return store.watch(
    { key, startRevision: afterRevision + 1 },
    {
      onResponse: (response) => {
        if (response.events.some((event) => event.type === 'delete')) onGone();
      },
      onError: (error) => {
        onGone(error);
      },
    },
  );
}

/** An AbortSignal that fires when `outer` does or when the lease is lost (with that reason). */
export function linkedSignal(
  lease: LeaseHandle,
  outer: AbortSignal | undefined,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onLost = (reason: SkeinError): void => {
    controller.abort(reason);
  };
  const onAbort = (): void => {
    controller.abort(outer?.reason);
  };
  lease.on('lost', onLost);
  outer?.addEventListener('abort', onAbort, { once: true });
  if (outer?.aborted === true) onAbort();
  return {
    signal: controller.signal,
    dispose: () => {
      lease.off('lost', onLost);
      outer?.removeEventListener('abort', onAbort);
    },
  };
}
