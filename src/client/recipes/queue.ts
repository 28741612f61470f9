/**
 * The fair queue under the lock and the election (etcd's concurrency package works the same way):
 * every contender creates one key under a common prefix, bound to its lease; the contender whose
 * key has the lowest createRevision is first. A contender waits for the deletion of the key just
 * before its own, so a release wakes exactly one waiter (no thundering herd).
 */
import { SkeinError } from '../../core/errors.ts';
import type { KeyValue } from '../../kv/types.ts';
import type { CoordinationStore } from '../types.ts';
import { RecipeErrorCode, recipeError } from './errors.ts';

/** Attempts at enqueueing while our key keeps vanishing between compare and read (a lease ending). */
const maxEnqueueAttempts = 5;

/** Create `key` bound to `leaseId` unless it exists; returns its createRevision (etcd's tryAcquire). */
export async function enqueue(
  store: CoordinationStore,
  key: string,
  value: string,
  leaseId: number,
): Promise<{ createRevision: number; value: string }> {
  for (let attempt = 1; ; attempt++) {
    const response = await store.txn({
      compare: [{ key, target: 'createRevision', op: '=', value: 0 }],
      success: [{ put: { key, value, lease: leaseId } }],
      failure: [{ range: { key } }],
    });
    if (response.succeeded) return { createRevision: response.revision, value };
    const first = response.responses[0];
    // The key existed (a retried request, or this lease queued before) — unless it vanished since.
    const existing = first !== undefined && 'range' in first ? first.range.kvs[0] : undefined;
    if (existing !== undefined) return { createRevision: existing.createRevision, value: existing.value };
    if (attempt >= maxEnqueueAttempts) {
      throw recipeError(
        RecipeErrorCode.LockLost,
        `could not queue ${key}: it kept vanishing (is its lease ending?)`,
      );
    }
  }
}

/** The key with the lowest createRevision under `prefix` (the head of the queue), if any. */
export function head(kvs: Iterable<KeyValue>): KeyValue | undefined {
  let first: KeyValue | undefined;
  for (const kv of kvs) if (first === undefined || kv.createRevision < first.createRevision) first = kv;
  return first;
}

/**
 * Wait until no key under `prefix` has a createRevision below `createRevision`. Rejects with
 * SKEIN_ABORTED when `signal` fires, and with the watch's error if it fails.
 */
export async function waitForTurn(
  store: CoordinationStore,
  prefix: string,
  createRevision: number,
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    throwIfAborted(signal);
    // keysOnly: the queue can be long; we only need keys and revisions.
    const response = await store.range({ key: prefix, prefix: true, keysOnly: true });
    let predecessor: KeyValue | undefined;
    for (const kv of response.kvs) {
      if (kv.createRevision < createRevision && (predecessor?.createRevision ?? 0) < kv.createRevision) {
        predecessor = kv;
      }
    }
    if (predecessor === undefined) return;
    await waitDeleted(store, predecessor.key, response.revision + 1, signal);
  }
}

/** Resolve when `key` is deleted at or after `fromRevision`. */
async function waitDeleted(
  store: CoordinationStore,
  key: string,
  fromRevision: number,
  signal: AbortSignal,
): Promise<void> {
  let settle: (error?: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => {
      if (error === undefined) resolve();
      else reject(error);
    };
  });
  const watch = await store.watch(
    { key, startRevision: fromRevision },
    {
      onResponse: (response) => {
        if (response.events.some((event) => event.type === 'delete')) settle();
      },
      onError: (error) => {
        settle(error);
      },
    },
  );
  const onAbort = (): void => {
    settle(abortError(signal));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();
  try {
    await done;
  } finally {
    signal.removeEventListener('abort', onAbort);
    await watch.cancel();
  }
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortError(signal);
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof SkeinError) return reason; // e.g. the lease was lost
  return recipeError(RecipeErrorCode.Aborted, 'gave up waiting: the AbortSignal fired', { cause: reason });
}
