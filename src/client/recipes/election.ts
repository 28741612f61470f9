/**
 * Leader election, like etcd's concurrency.Election, on any CoordinationStore.
 *
 * A campaigner creates `<prefix>/<name>/<lease hex>` (value: what it proclaims) bound to a kept-alive
 * lease, and waits until every key with a lower createRevision is gone: the candidate with the
 * oldest key leads. Leadership passes on when the leader resigns (deletes its key) or its lease
 * ends (expiry, revoke): the next oldest candidate's wait then returns. `proclaim` changes the value
 * only while the caller's key is still the one it created (a compare on createRevision), and
 * `observe` reports every change of leader or value, in order.
 */
import { SkeinError } from '../../core/errors.ts';
import { KvErrorCode } from '../../kv/errors.ts';
import type { KeyValue } from '../../kv/types.ts';
import type { CoordinationStore, WatchHandle } from '../types.ts';
import { RecipeErrorCode, recipeError, type LostListener } from './errors.ts';
import { watchPrefix, type PrefixView } from './prefix-view.ts';
import { enqueue, head, waitForTurn } from './queue.ts';
import { linkedSignal, openSession, watchOwnKey, type Session, type SessionOptions } from './session.ts';

export interface ElectionOptions extends SessionOptions {
  /** Key prefix of all elections. Default 'skein/election'. */
  readonly prefix?: string;
}

export interface Leader {
  readonly key: string;
  readonly value: string;
  /** The leader's key's createRevision: increases with every new leader (a term, or fencing token). */
  readonly createRevision: number;
  readonly leaseId: number;
}

export interface Election {
  readonly name: string;
  /** True between a successful campaign() and resign() or the loss of leadership. */
  readonly isLeader: boolean;
  /** Campaign with `value`; resolves once this caller leads. One campaign at a time per Election. */
  campaign(value: string, options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** Change the leader's value. Rejects with SKEIN_NOT_ELECTED / SKEIN_LEADERSHIP_LOST when not leading. */
  proclaim(value: string): Promise<void>;
  /** Stop leading (or campaigning): delete the key, revoke the lease if the election granted it. */
  resign(): Promise<void>;
  /** The current leader, or null. */
  leader(): Promise<Leader | null>;
  /** Call `callback` with the leader now and after every change of leader or value. */
  observe(callback: (leader: Leader | null) => void, onError?: (error: Error) => void): Promise<PrefixView>;
  /** Leadership lost without resign(): lease gone or key deleted. Fires once per term. */
  on(event: 'lost', listener: LostListener): this;
  off(event: 'lost', listener: LostListener): this;
}

export const defaultElectionPrefix = 'skein/election';

export function election(store: CoordinationStore, name: string, options: ElectionOptions = {}): Election {
  return new StoreElection(store, name, options);
}

interface Term {
  readonly session: Session;
  readonly key: string;
  readonly createRevision: number;
  watch: WatchHandle | null;
  ended: boolean;
  readonly onLeaseLost: LostListener;
}

class StoreElection implements Election {
  readonly name: string;
  readonly #store: CoordinationStore;
  readonly #options: ElectionOptions;
  readonly #queuePrefix: string;
  readonly #listeners = new Set<LostListener>();
  #term: Term | null = null;
  #campaigning = false;

  constructor(store: CoordinationStore, name: string, options: ElectionOptions) {
    this.name = name;
    this.#store = store;
    this.#options = options;
    this.#queuePrefix = `${options.prefix ?? defaultElectionPrefix}/${name}/`;
  }

  get isLeader(): boolean {
    return this.#term !== null && !this.#term.ended;
  }

  async campaign(value: string, options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (this.#campaigning || this.isLeader) {
      throw new SkeinError(
        KvErrorCode.InvalidArgument,
        `election ${this.name}: already campaigning or leading`,
      );
    }
    this.#campaigning = true;
    const session = await openSession(this.#store, this.#options);
    const key = `${this.#queuePrefix}${session.lease.id.toString(16)}`;
    const abort = linkedSignal(session.lease, options.signal);
    try {
      const queued = await enqueue(this.#store, key, value, session.lease.id);
      if (queued.value !== value) await this.#store.put({ key, value, lease: session.lease.id });
      await waitForTurn(this.#store, this.#queuePrefix, queued.createRevision, abort.signal);
      const own = await this.#store.range({ key });
      if (own.kvs[0]?.createRevision !== queued.createRevision) {
        throw recipeError(
          RecipeErrorCode.LeadershipLost,
          `election ${this.name}: key vanished while campaigning`,
        );
      }
      await this.#beginTerm(session, key, queued.createRevision, own.revision);
    } catch (error) {
      await this.#store.deleteRange({ key }).catch(() => undefined);
      await session.end().catch(() => undefined);
      throw error;
    } finally {
      abort.dispose();
      this.#campaigning = false;
    }
  }

  async proclaim(value: string): Promise<void> {
    const term = this.#term;
    if (term === null || term.ended) {
      throw recipeError(
        RecipeErrorCode.NotElected,
        `election ${this.name}: proclaim() needs a won campaign()`,
      );
    }
    const response = await this.#store.txn({
      compare: [{ key: term.key, target: 'createRevision', op: '=', value: term.createRevision }],
      success: [{ put: { key: term.key, value, lease: term.session.lease.id } }],
      failure: [],
    });
    if (!response.succeeded) {
      const reason = recipeError(
        RecipeErrorCode.LeadershipLost,
        `election ${this.name}: no longer the leader`,
      );
      this.#endTerm(term, reason);
      throw reason;
    }
  }

  async resign(): Promise<void> {
    const term = this.#term;
    if (term === null) return;
    this.#term = null;
    const wasEnded = term.ended;
    term.ended = true;
    term.session.lease.off('lost', term.onLeaseLost);
    await term.watch?.cancel();
    if (wasEnded) return;
    await this.#store.txn({
      compare: [{ key: term.key, target: 'createRevision', op: '=', value: term.createRevision }],
      success: [{ deleteRange: { key: term.key } }],
      failure: [],
    });
    await term.session.end();
  }

  async leader(): Promise<Leader | null> {
    const response = await this.#store.range({ key: this.#queuePrefix, prefix: true });
    const first = head(response.kvs);
    return first === undefined ? null : toLeader(first);
  }

  async observe(
    callback: (leader: Leader | null) => void,
    onError?: (error: Error) => void,
  ): Promise<PrefixView> {
    let last: KeyValue | null | undefined;
    return watchPrefix(
      this.#store,
      this.#queuePrefix,
      (keys) => {
        const first = head(keys.values()) ?? null;
        if (last !== undefined && first?.key === last?.key && first?.modRevision === last?.modRevision)
          return;
        last = first;
        callback(first === null ? null : toLeader(first));
      },
      onError,
    );
  }

  on(_event: 'lost', listener: LostListener): this {
    this.#listeners.add(listener);
    return this;
  }

  off(_event: 'lost', listener: LostListener): this {
    this.#listeners.delete(listener);
    return this;
  }

  async #beginTerm(session: Session, key: string, createRevision: number, checkedAt: number): Promise<void> {
    const term: Term = {
      session,
      key,
      createRevision,
      watch: null,
      ended: false,
      onLeaseLost: (reason) => {
        this.#endTerm(term, reason);
      },
    };
    this.#term = term;
    session.lease.on('lost', term.onLeaseLost);
    term.watch = await watchOwnKey(this.#store, key, checkedAt, (error) => {
      this.#endTerm(
        term,
        recipeError(RecipeErrorCode.LeadershipLost, `election ${this.name}: leader key ${key} was deleted`, {
          ...(error === undefined ? {} : { cause: error }),
        }),
      );
    });
  }

  #endTerm(term: Term, reason: SkeinError): void {
    if (term.ended) return;
    term.ended = true;
    term.session.lease.off('lost', term.onLeaseLost);
    void term.watch?.cancel();
    if (term.session.ownsLease) term.session.end().catch(() => undefined);
    for (const listener of this.#listeners) listener(reason);
  }
}

function toLeader(kv: KeyValue): Leader {
  return { key: kv.key, value: kv.value, createRevision: kv.createRevision, leaseId: kv.lease };
}
