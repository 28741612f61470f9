/**
 * One watch on etcd, on its own gRPC stream, that survives reconnects without losing or repeating
 * events.
 *
 * Why not etcd3's Watcher: it resumes from the last response header's revision + 1, but etcd sends
 * the *current* store revision in the header of a catch-up batch (and of the "created" response),
 * so a reconnect in the middle of catching up would skip events. We resume from the last delivered
 * event's modRevision + 1 instead (etcd never splits one revision's events across responses
 * without `fragment`), or from a progress notification's revision (etcd only sends those to watches
 * that are caught up), and drop anything at or below what was delivered.
 */
import type { IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import { SkeinError } from '../core/errors.ts';
import { KvErrorCode, kvError } from '../kv/errors.ts';
import type { WatchEvent, WatchRequest } from '../kv/types.ts';
import type { WatchCallbacks, WatchHandle } from './types.ts';
import { int64ToNumber, keyValueFromEtcd, selectorToEtcd } from './etcd-codec.ts';
import { fromEtcdError, isTransient } from './etcd-errors.ts';
import type { LeaseIdMap } from './etcd-lease-ids.ts';

export type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

export interface EtcdWatchDeps {
  readonly openStream: () => Promise<WatchStream>;
  readonly leases: LeaseIdMap;
  /** First reconnect delay; doubles up to `reconnectMaxMs`. */
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Give up establishing a new watch (reject `start()`) after this long. */
  readonly establishTimeoutMs: number;
  /** Called once when the watch ends for any reason (cancel, error, close). */
  readonly onDone: (watch: EtcdWatch) => void;
}

type State = 'connecting' | 'live' | 'done';

export class EtcdWatch implements WatchHandle {
  readonly #request: WatchRequest;
  readonly #callbacks: WatchCallbacks;
  readonly #deps: EtcdWatchDeps;
  #state: State = 'connecting';
  #stream: WatchStream | null = null;
  #lastRevision: number;
  /** startRevision 0: the first creation starts at etcd's current revision, whatever it is. */
  readonly #fromCurrent: boolean;
  /** True once etcd has created the watch (then a start revision is pinned: lastRevision + 1). */
  #established = false;
  #retryDelayMs: number;
  #retryTimer: NodeJS.Timeout | null = null;
  #settleStart: ((error?: Error) => void) | null = null;
  #establishDeadline = 0;

  constructor(request: WatchRequest, callbacks: WatchCallbacks, deps: EtcdWatchDeps) {
    this.#request = request;
    this.#callbacks = callbacks;
    this.#deps = deps;
    const start = request.startRevision ?? 0;
    this.#fromCurrent = start <= 0;
    this.#lastRevision = start > 0 ? start - 1 : 0;
    this.#retryDelayMs = deps.reconnectMinMs;
  }

  get lastRevision(): number {
    return this.#lastRevision;
  }

  /** Resolves when etcd has created the watch; rejects when it cannot within establishTimeoutMs. */
  start(): Promise<void> {
    this.#establishDeadline = performance.now() + this.#deps.establishTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      this.#settleStart = (error) => {
        this.#settleStart = null;
        if (error === undefined) resolve();
        else reject(error);
      };
      void this.#reconnect();
    });
  }

  async cancel(): Promise<void> {
    if (this.#state === 'done') return;
    this.#finish();
    return Promise.resolve();
  }

  async #connect(): Promise<void> {
    const stream = await this.#deps.openStream();
    if (this.#state === 'done') {
      closeStream(stream);
      return;
    }
    this.#stream = stream;
    stream.on('data', (response) => {
      if (this.#stream === stream) this.#onResponse(response);
    });
    stream.on('error', (error) => {
      if (this.#stream === stream) this.#onBroken(error);
    });
    stream.on('end', () => {
      if (this.#stream === stream)
        this.#onBroken(new SkeinError('SKEIN_UNAVAILABLE', 'etcd ended the watch stream'));
    });
    const startRevision = this.#fromCurrent && !this.#established ? 0 : this.#lastRevision + 1;
    stream.write({
      create_request: {
        ...selectorToEtcd(this.#request),
        start_revision: startRevision,
        prev_kv: this.#request.prevKv ?? false,
        progress_notify: this.#request.progressNotify ?? false,
      },
    });
  }

  #onResponse(response: IWatchResponse): void {
    const headerRevision = int64ToNumber(response.header.revision, 'header.revision');
    if (response.canceled) {
      // Before creation too (etcd answers "created" and "canceled" together for a refused watch):
      // then start() rejects, except for compaction, which goes to onError as for a live watch.
      this.#finish(this.#cancelError(response));
      return;
    }
    if (response.created) {
      this.#retryDelayMs = this.#deps.reconnectMinMs;
      if (this.#fromCurrent && !this.#established) this.#lastRevision = headerRevision;
      this.#established = true;
      this.#state = 'live';
      this.#settleStart?.();
      return;
    }
    if (response.events.length === 0) {
      // A progress notification: etcd sends them only to watches that are caught up.
      if (headerRevision <= this.#lastRevision) return;
      this.#lastRevision = headerRevision;
      this.#deliver({ revision: headerRevision, events: [], progress: true });
      return;
    }
    const events: WatchEvent[] = [];
    for (const event of response.events) {
      const kv = keyValueFromEtcd(event.kv, this.#deps.leases);
      if (kv.modRevision <= this.#lastRevision) continue; // already delivered before a reconnect
      const prev = event.prev_kv as typeof event.prev_kv | null | undefined;
      const type = event.type === 'Put' ? 'put' : 'delete';
      events.push(
        prev === null || prev === undefined
          ? { type, kv }
          : { type, kv, prevKv: keyValueFromEtcd(prev, this.#deps.leases) },
      );
    }
    const last = events.at(-1);
    if (last === undefined) return;
    this.#lastRevision = last.kv.modRevision;
    this.#deliver({ revision: Math.max(headerRevision, last.kv.modRevision), events });
  }

  #cancelError(response: IWatchResponse): SkeinError {
    const compactRevision = int64ToNumber(response.compact_revision, 'compact_revision');
    if (compactRevision > 0) {
      return kvError(KvErrorCode.Compacted, `watch from revision ${String(this.#lastRevision + 1)}`, {
        compactRevision,
        revision: this.#lastRevision + 1,
      });
    }
    return fromEtcdError(new Error(response.cancel_reason || 'etcd canceled the watch'));
  }

  #deliver(response: Parameters<WatchCallbacks['onResponse']>[0]): void {
    try {
      this.#callbacks.onResponse(response);
    } catch (error) {
      // A throwing callback is a bug in the caller: surface it without breaking the watch.
      setImmediate(() => {
        throw error;
      });
    }
  }

  #onBroken(error: unknown): void {
    if (this.#state === 'done') return;
    const skeinError = fromEtcdError(error);
    const stream = this.#stream;
    this.#stream = null;
    if (stream !== null) closeStream(stream);
    const delayMs = this.#nextDelay();
    const gaveUp = !this.#established && performance.now() + delayMs > this.#establishDeadline;
    if (!isTransient(skeinError) || gaveUp) {
      this.#finish(skeinError);
      return;
    }
    this.#state = 'connecting';
    this.#retryTimer = setTimeout(() => void this.#reconnect(), delayMs);
  }

  async #reconnect(): Promise<void> {
    this.#retryTimer = null;
    if (this.#state === 'done') return;
    try {
      await this.#connect();
    } catch (error) {
      this.#onBroken(error);
    }
  }

  #nextDelay(): number {
    const delay = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(this.#deps.reconnectMaxMs, this.#retryDelayMs * 2);
    return delay;
  }

  /** End the watch: with an error, report it (or reject start()); without, a plain cancel. */
  #finish(error?: SkeinError): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const stream = this.#stream;
    this.#stream = null;
    if (stream !== null) closeStream(stream);
    this.#deps.onDone(this);
    if (this.#settleStart !== null && !(error?.code === KvErrorCode.Compacted)) {
      this.#settleStart(error ?? new SkeinError('SKEIN_CLOSED', 'watch canceled before it was established'));
      return;
    }
    this.#settleStart?.();
    if (error !== undefined) this.#callbacks.onError?.(error);
  }
}

/**
 * Close a stream without tripping etcd3's connection pool: ending our side first makes the stream
 * non-writable, so the CANCELLED error that cancel() causes is not taken for a failed host.
 */
export function closeStream(stream: IDuplexStream<unknown, unknown>): void {
  stream.on('error', () => undefined);
  stream.end();
  stream.cancel();
}
