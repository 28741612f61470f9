import type { Clock, TimerHandle } from '../core/clock.ts';
import { SkeinError } from '../core/errors.ts';
import type { KvStore } from '../kv/index.ts';
import { isSingleKey, selects } from '../kv/selector.ts';
import type { KeySelector, WatchEvent, WatchRequest, WatchResponse } from '../kv/types.ts';

/** Where a watch's responses go (an HTTP stream in the server, an array in tests). */
export interface WatchSink {
  /** Deliver one response; false when the consumer's buffer is full (stop sending until drain). */
  send(response: WatchResponse): boolean;
  /** Register a callback for when a full buffer has drained. */
  onDrain(callback: () => void): void;
  /** The watch ended on the server's side (compacted history, shutdown). */
  close(error?: SkeinError): void;
}

export interface WatchHubOptions {
  readonly store: KvStore;
  readonly clock: Clock;
  /** Idle watches that asked for progress notifications get one this often. Default 10 s. */
  readonly progressIntervalMs?: number;
  /** Largest batch of history events per response while catching up. Default 1000. */
  readonly maxEventsPerResponse?: number;
  /** Watches this member serves at most; more get SKEIN_TOO_MANY_WATCHES. Default 100000. */
  readonly maxWatches?: number;
}

interface Watcher {
  readonly id: number;
  readonly selector: KeySelector;
  readonly matches: (key: string) => boolean;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  readonly sink: WatchSink;
  /** Next revision this watcher must see; everything before it was delivered or did not match. */
  next: number;
  /** Fed live from applied writes; false while catching up from history (new, slow, or after restore). */
  synced: boolean;
  lastSentMs: number;
}

/**
 * Serves watches from one member's store. A watch is either synced (fed each applied write as it
 * happens) or catching up from the store's history; a consumer that stops reading is moved to
 * catching up instead of buffering without bound, so memory per watch is bounded by the sink's
 * buffer. Every response covers whole revisions and `revision` is the last one it covers, so a
 * client resuming from `revision + 1` on any member neither loses nor repeats an event.
 */
export class WatchHub {
  readonly #store: KvStore;
  readonly #clock: Clock;
  readonly #progressIntervalMs: number;
  readonly #maxEventsPerResponse: number;
  readonly #maxWatches: number;
  readonly #watchers = new Map<number, Watcher>();
  /** Synced single-key watchers by key: a write only visits the watchers of its own keys. */
  readonly #byKey = new Map<string, Set<Watcher>>();
  /** Synced prefix and range watchers: visited for every write. */
  readonly #ranged = new Set<Watcher>();
  readonly #unsubscribe: (() => void)[];
  #nextId = 1;
  #progressTimer: TimerHandle | null = null;
  /** Set by {@link suspend}: every new watch is refused with it until {@link resume}. */
  #suspendedBy: SkeinError | null = null;

  constructor(options: WatchHubOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#progressIntervalMs = options.progressIntervalMs ?? 10_000;
    this.#maxEventsPerResponse = options.maxEventsPerResponse ?? 1000;
    this.#maxWatches = options.maxWatches ?? 100_000;
    this.#unsubscribe = [
      this.#store.onChange((revision, events) => {
        this.#onChange(revision, events);
      }),
      this.#store.onRestore(() => {
        for (const w of this.#watchers.values()) this.#catchUp(w);
      }),
    ];
    this.#scheduleProgress();
  }

  get size(): number {
    return this.#watchers.size;
  }

  /**
   * Register a watch; nothing is sent until {@link start}, which must be called in the same
   * synchronous turn (so no write slips between them). Returns its id and the revision it starts
   * after (the client's resume point). Throws SKEIN_COMPACTED when `startRevision` was compacted away.
   */
  add(request: WatchRequest, sink: WatchSink): { id: number; revision: number } {
    if (this.#suspendedBy !== null) throw this.#suspendedBy;
    if (this.#watchers.size >= this.#maxWatches) {
      throw new SkeinError(
        'SKEIN_TOO_MANY_WATCHES',
        `this member serves ${this.#watchers.size} watches (maxWatches); watch a prefix instead of many keys, or use another member`,
      );
    }
    const current = this.#store.revision;
    const start =
      request.startRevision !== undefined && request.startRevision > 0 ? request.startRevision : current + 1;
    const compacted = this.#store.compactRevision;
    if (start <= compacted) {
      throw new SkeinError(
        'SKEIN_COMPACTED',
        `revision ${start} was compacted (history starts after ${compacted}); watch from the current revision instead`,
        { details: { compactRevision: compacted } },
      );
    }
    const watcher: Watcher = {
      id: this.#nextId++,
      selector: request,
      matches: (key) => selects(request, key),
      prevKv: request.prevKv === true,
      progressNotify: request.progressNotify === true,
      sink,
      next: start,
      synced: false,
      lastSentMs: this.#clock.now(),
    };
    this.#watchers.set(watcher.id, watcher);
    return { id: watcher.id, revision: start - 1 };
  }

  /** Replay history from the start revision, then deliver changes as they are applied. */
  start(id: number): void {
    const w = this.#watchers.get(id);
    if (w !== undefined && !w.synced) this.#catchUp(w);
  }

  remove(id: number): void {
    const w = this.#watchers.get(id);
    if (w === undefined) return;
    this.#watchers.delete(id);
    this.#unsync(w);
  }

  /**
   * End every watch with `reason`, and refuse new ones with it until {@link resume}. The server
   * does this while its member knows no leader (see LeaderlessWatches): such a member sees no new
   * commits, so its watches would go quiet without saying why, while the client could resume them
   * on a member that does.
   */
  suspend(reason: SkeinError): void {
    this.#suspendedBy = reason;
    for (const w of [...this.#watchers.values()]) {
      this.remove(w.id);
      w.sink.close(reason);
    }
  }

  /** Accept watches again after {@link suspend}. */
  resume(): void {
    this.#suspendedBy = null;
  }

  get suspended(): boolean {
    return this.#suspendedBy !== null;
  }

  /** End every watch (shutdown). */
  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    if (this.#progressTimer !== null) this.#clock.clearTimeout(this.#progressTimer);
    this.#progressTimer = null;
    for (const w of [...this.#watchers.values()]) {
      this.remove(w.id);
      w.sink.close();
    }
  }

  #onChange(revision: number, events: readonly WatchEvent[]): void {
    const matched = new Map<Watcher, WatchEvent[]>();
    for (const event of events) {
      const exact = this.#byKey.get(event.kv.key);
      if (exact !== undefined) for (const w of exact) addEvent(matched, w, event);
      for (const w of this.#ranged) if (w.matches(event.kv.key)) addEvent(matched, w, event);
    }
    for (const [w, own] of matched) {
      if (revision < w.next) continue;
      w.next = revision + 1;
      this.#deliver(w, { revision, events: own });
    }
  }

  /** Send; on backpressure fall back to history until the consumer drains. */
  #deliver(w: Watcher, response: WatchResponse): void {
    const events = w.prevKv ? response.events : response.events.map(withoutPrevKv);
    w.lastSentMs = this.#clock.now();
    if (w.sink.send({ ...response, events })) return;
    this.#unsync(w);
    w.sink.onDrain(() => {
      if (this.#watchers.get(w.id) === w) this.#catchUp(w);
    });
  }

  /** Replay history from `w.next` to the current revision, then feed it live. Synchronous. */
  #catchUp(w: Watcher): void {
    this.#unsync(w);
    while (w.next <= this.#store.revision) {
      let batch: { events: WatchEvent[]; throughRevision: number };
      try {
        batch = this.#store.eventsSince(w.selector, w.next, w.prevKv, this.#maxEventsPerResponse);
      } catch (error) {
        this.remove(w.id);
        w.sink.close(error instanceof SkeinError ? error : new SkeinError('SKEIN_INTERNAL', String(error)));
        return;
      }
      w.next = batch.throughRevision + 1;
      if (batch.events.length === 0) continue;
      w.lastSentMs = this.#clock.now();
      if (!w.sink.send({ revision: batch.throughRevision, events: batch.events })) {
        w.sink.onDrain(() => {
          if (this.#watchers.get(w.id) === w) this.#catchUp(w);
        });
        return;
      }
    }
    w.next = Math.max(w.next, this.#store.revision + 1);
    this.#sync(w);
  }

  #sync(w: Watcher): void {
    w.synced = true;
    if (isSingleKey(w.selector)) {
      let set = this.#byKey.get(w.selector.key);
      if (set === undefined) this.#byKey.set(w.selector.key, (set = new Set()));
      set.add(w);
    } else {
      this.#ranged.add(w);
    }
  }

  #unsync(w: Watcher): void {
    if (!w.synced) return;
    w.synced = false;
    const set = this.#byKey.get(w.selector.key);
    if (set?.delete(w) === true && set.size === 0) this.#byKey.delete(w.selector.key);
    this.#ranged.delete(w);
  }

  #scheduleProgress(): void {
    this.#progressTimer = this.#clock.setTimeout(() => {
      this.#progressTimer = null;
      this.#sendProgress();
      this.#scheduleProgress();
    }, this.#progressIntervalMs);
  }

  #sendProgress(): void {
    const now = this.#clock.now();
    const revision = this.#store.revision;
    for (const w of this.#watchers.values()) {
      if (!w.progressNotify || !w.synced || now - w.lastSentMs < this.#progressIntervalMs) continue;
      // A synced watcher has been shown every matching event up to the current revision.
      w.next = Math.max(w.next, revision + 1);
      this.#deliver(w, { revision, events: [], progress: true });
    }
  }
}

function addEvent(matched: Map<Watcher, WatchEvent[]>, w: Watcher, event: WatchEvent): void {
  const list = matched.get(w);
  if (list === undefined) matched.set(w, [event]);
  else list.push(event);
}

function withoutPrevKv(event: WatchEvent): WatchEvent {
  return event.prevKv === undefined ? event : { type: event.type, kv: event.kv };
}
