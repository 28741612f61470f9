/**
 * A distributed mutex, like etcd's concurrency.Mutex, on any CoordinationStore.
 *
 * `lock()` creates `<prefix>/<name>/<lease id in hex>` bound to a kept-alive lease, in a transaction
 * that only creates it if absent; the key's createRevision is the caller's place in the queue. It
 * then waits until every key under `<prefix>/<name>/` with a lower createRevision is gone (watching
 * only its predecessor) and checks that its own key still exists. The holder gets a fencing token,
 * its key's createRevision: it increases with every acquisition, so a resource that remembers the
 * highest token it has seen can refuse a holder that lost the lock without knowing (a pause longer
 * than the TTL). The lock is lost — 'lost' fires once — when its lease cannot be kept or its key is
 * deleted; from then on another process may hold it.
 */
import type { SkeinError } from '../../core/errors.ts';
import type { CoordinationStore, WatchHandle } from '../types.ts';
import { LostEvent, RecipeErrorCode, recipeError, type LostListener } from './errors.ts';
import { enqueue, waitForTurn } from './queue.ts';
import { linkedSignal, openSession, watchOwnKey, type Session, type SessionOptions } from './session.ts';

export interface LockOptions extends SessionOptions {
  /** Key prefix of all locks. Default 'skein/lock'. */
  readonly prefix?: string;
  /** Give up waiting (rejects with the signal's reason, or SKEIN_ABORTED). */
  readonly signal?: AbortSignal;
}

export interface Lock {
  /** The lock's key, `<prefix>/<name>/<lease hex>`. */
  readonly key: string;
  readonly leaseId: number;
  /** The key's createRevision: strictly greater than every earlier holder's token. */
  readonly fencingToken: number;
  /** True after 'lost' fired. */
  readonly lost: boolean;
  /** The lock's lease or key is gone; another process may hold the lock now. Fires at most once. */
  on(event: 'lost', listener: LostListener): this;
  off(event: 'lost', listener: LostListener): this;
  /** Release: delete the key (and revoke the lease if the lock granted it). Idempotent. */
  unlock(): Promise<void>;
}

export const defaultLockPrefix = 'skein/lock';

/** Acquire the lock `name`, waiting behind earlier contenders. */
export async function lock(store: CoordinationStore, name: string, options: LockOptions = {}): Promise<Lock> {
  const queuePrefix = `${options.prefix ?? defaultLockPrefix}/${name}/`;
  const session = await openSession(store, options);
  const key = `${queuePrefix}${session.lease.id.toString(16)}`;
  const abort = linkedSignal(session.lease, options.signal);
  try {
    const { createRevision } = await enqueue(store, key, '', session.lease.id);
    await waitForTurn(store, queuePrefix, createRevision, abort.signal);
    // etcd's Mutex does the same: the lease may have expired while we waited.
    const own = await store.range({ key });
    if (own.kvs[0]?.createRevision !== createRevision) {
      throw recipeError(
        RecipeErrorCode.LockLost,
        `lock ${name}: its key vanished while waiting (lease expired?)`,
      );
    }
    const held = new HeldLock(store, key, session, createRevision);
    await held.start(own.revision);
    return held;
  } catch (error) {
    await store.deleteRange({ key }).catch(() => undefined);
    await session.end().catch(() => undefined);
    throw error;
  } finally {
    abort.dispose();
  }
}

class HeldLock implements Lock {
  readonly key: string;
  readonly fencingToken: number;
  readonly #store: CoordinationStore;
  readonly #session: Session;
  readonly #lost = new LostEvent();
  #watch: WatchHandle | null = null;
  #released = false;
  readonly #onLeaseLost = (reason: SkeinError): void => {
    this.#lose(reason);
  };

  constructor(store: CoordinationStore, key: string, session: Session, fencingToken: number) {
    this.#store = store;
    this.key = key;
    this.#session = session;
    this.fencingToken = fencingToken;
  }

  get leaseId(): number {
    return this.#session.lease.id;
  }

  get lost(): boolean {
    return this.#lost.fired;
  }

  async start(checkedAtRevision: number): Promise<void> {
    this.#session.lease.on('lost', this.#onLeaseLost);
    this.#watch = await watchOwnKey(this.#store, this.key, checkedAtRevision, (error) => {
      this.#lose(
        recipeError(
          RecipeErrorCode.LockLost,
          `lock key ${this.key} was deleted: the lock is no longer held`,
          {
            ...(error === undefined ? {} : { cause: error }),
          },
        ),
      );
    });
  }

  on(_event: 'lost', listener: LostListener): this {
    this.#lost.on(listener);
    return this;
  }

  off(_event: 'lost', listener: LostListener): this {
    this.#lost.off(listener);
    return this;
  }

  async unlock(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#session.lease.off('lost', this.#onLeaseLost);
    await this.#watch?.cancel();
    if (this.#session.ownsLease) await this.#session.end();
    else await this.#store.deleteRange({ key: this.key });
  }

  #lose(reason: SkeinError): void {
    if (this.#released || !this.#lost.fire(reason)) return;
    this.#session.lease.off('lost', this.#onLeaseLost);
    void this.#watch?.cancel();
    // The lock is gone either way; free the lease we own (and any key left on it).
    if (this.#session.ownsLease) this.#session.end().catch(() => undefined);
  }
}
