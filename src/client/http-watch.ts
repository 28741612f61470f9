import { SkeinError } from '../core/errors.ts';
import { WATCH_HEARTBEAT_LIMITS_MS, type WatchRequest, type WatchResponse } from '../kv/types.ts';
import type { Endpoints } from './http-endpoints.ts';
import type { WatchCallbacks, WatchHandle } from './types.ts';

/** Longest NDJSON line accepted from a server (one watch response). */
const MAX_LINE_BYTES = 64 << 20;

interface ErrorLine {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: Record<string, unknown>;
  };
}

/**
 * A watch over POST /v1/watch that survives member failures: when its stream breaks it reopens
 * on the next member from `lastRevision + 1`. The server sends whole revisions per response, so
 * resuming there neither loses nor repeats an event.
 *
 * A stream also counts as broken when nothing arrives for `idleTimeoutMs`: the watch asks the
 * member for a heartbeat line every third of that while nothing else is sent, so silence means
 * the member stopped answering with the connection open (a paused process, a cut-off host). And a
 * member that has known no leader for a while ends its watches with SKEIN_NO_LEADER (it would see
 * no new changes); the watch then resumes on the next member too.
 */
export class HttpWatch implements WatchHandle {
  readonly #endpoints: Endpoints;
  readonly #request: WatchRequest;
  readonly #callbacks: WatchCallbacks;
  readonly #retryDelayMs: number;
  readonly #idleTimeoutMs: number;
  #lastRevision = 0;
  #controller: AbortController | null = null;
  #cancelled = false;
  #started: { resolve: () => void; reject: (e: Error) => void } | null = null;

  constructor(
    endpoints: Endpoints,
    request: WatchRequest,
    callbacks: WatchCallbacks,
    options: { readonly idleTimeoutMs: number; readonly retryDelayMs?: number },
  ) {
    this.#endpoints = endpoints;
    this.#request = request;
    this.#callbacks = callbacks;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#retryDelayMs = options.retryDelayMs ?? 200;
  }

  /** True once cancelled or ended by the server for good. */
  get ended(): boolean {
    return this.#cancelled;
  }

  get lastRevision(): number {
    return this.#lastRevision;
  }

  /** Resolves once the first member confirmed the watch; rejects when it cannot be created. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#started = { resolve, reject };
      void this.#loop();
    });
  }

  cancel(): Promise<void> {
    this.#cancelled = true;
    this.#controller?.abort();
    return Promise.resolve();
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#cancelled) {
      const url = this.#endpoints.preferred;
      try {
        await this.#stream(url);
        failures = 0;
      } catch (error) {
        if (this.#isCancelled()) return;
        if (error instanceof SkeinError && error.code === 'SKEIN_COMPACTED') {
          this.#fail(error);
          return;
        }
        failures++;
        // A member that went silent or refused the connection, unlike one that ended the watch
        // with an error line, is passed over for a while.
        if (!(error instanceof SkeinError)) this.#endpoints.markUnresponsive(url);
        this.#endpoints.rotate(url);
        // Give up only on a watch that never started and has tried every member twice.
        if (this.#notStarted() && failures >= 2 * this.#endpoints.urls.length) {
          this.#fail(error instanceof Error ? error : new Error(String(error)));
          return;
        }
      }
      if (!this.#isCancelled()) await sleep(Math.min(this.#retryDelayMs * 2 ** Math.min(failures, 5), 5000));
    }
  }

  // Read through methods: these fields change while #loop awaits, which flow analysis cannot see.
  #isCancelled(): boolean {
    return this.#cancelled;
  }

  #notStarted(): boolean {
    return this.#started !== null;
  }

  #fail(error: Error): void {
    this.#cancelled = true;
    if (this.#started !== null) {
      this.#started.reject(error);
      this.#started = null;
    } else {
      this.#callbacks.onError?.(error);
    }
  }

  async #stream(url: string): Promise<void> {
    const resumeFrom = this.#started === null ? this.#lastRevision + 1 : (this.#request.startRevision ?? 0);
    this.#controller = new AbortController();
    const heartbeat = this.#idleTimeoutMs > 0 ? { heartbeatMs: heartbeatFor(this.#idleTimeoutMs) } : {};
    const answer = await this.#endpoints.stream(
      url,
      '/v1/watch',
      { ...this.#request, startRevision: resumeFrom, ...heartbeat },
      this.#controller.signal,
      this.#idleTimeoutMs,
    );
    if (answer.statusCode !== 200) {
      const body = (await answer.body.json().catch(() => ({}))) as Partial<ErrorLine>;
      throw toError(
        body.error ?? { code: 'SKEIN_UNAVAILABLE', message: `watch answered ${answer.statusCode}` },
      );
    }
    let buffered = '';
    for await (const chunk of answer.body) {
      buffered += (chunk as Buffer).toString('utf8');
      if (buffered.length > MAX_LINE_BYTES)
        throw new SkeinError('SKEIN_DECODE_FAILED', 'watch line too long');
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line !== '') this.#onLine(JSON.parse(line) as Record<string, unknown>);
        if (this.#cancelled) return;
        newline = buffered.indexOf('\n');
      }
    }
    throw new SkeinError('SKEIN_UNAVAILABLE', `watch stream from ${url} ended`);
  }

  #onLine(line: Record<string, unknown>): void {
    if (line['heartbeat'] === true) return; // it did its job by arriving
    if (line['created'] === true) {
      const revision = line['revision'] as number;
      if (this.#started !== null) {
        this.#lastRevision = revision;
        this.#started.resolve();
        this.#started = null;
      }
      return;
    }
    if (line['error'] !== undefined) throw toError((line as unknown as ErrorLine).error);
    const response = line as unknown as WatchResponse;
    if (response.revision <= this.#lastRevision) {
      // A lagging member's progress notification: it tells us nothing new.
      if (response.events.length === 0) return;
    }
    this.#lastRevision = Math.max(this.#lastRevision, response.revision);
    this.#callbacks.onResponse(response);
  }
}

/** The heartbeat to ask for: three per idle timeout, within what a member accepts. */
function heartbeatFor(idleTimeoutMs: number): number {
  const { min, max } = WATCH_HEARTBEAT_LIMITS_MS;
  return Math.min(max, Math.max(min, Math.floor(idleTimeoutMs / 3)));
}

function toError(e: ErrorLine['error']): SkeinError {
  return new SkeinError(e.code, e.message, e.details === undefined ? {} : { details: e.details });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
