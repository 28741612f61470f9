/**
 * A live copy of every key under a prefix: one read, then a watch from the revision after it, so
 * no change is missed or applied twice. Used by election.observe() and serviceRegistry.watch().
 */
import { hasCode } from '../../core/errors.ts';
import { KvErrorCode } from '../../kv/errors.ts';
import type { KeyValue } from '../../kv/types.ts';
import type { CoordinationStore, WatchHandle } from '../types.ts';

export interface PrefixView {
  /** Stop watching. Idempotent. */
  cancel(): Promise<void>;
}

export type PrefixListener = (kvs: ReadonlyMap<string, KeyValue>, revision: number) => void;

/**
 * Call `onChange` with the keys under `prefix` now, then after every change. If the watch falls so
 * far behind that its revision is compacted, it reads the prefix again and carries on; any other
 * watch failure ends the view and goes to `onError`.
 */
export async function watchPrefix(
  store: CoordinationStore,
  prefix: string,
  onChange: PrefixListener,
  onError?: (error: Error) => void,
): Promise<PrefixView> {
  const keys = new Map<string, KeyValue>();
  let watch: WatchHandle | null = null;
  let cancelled = false;

  const sync = async (): Promise<void> => {
    const snapshot = await store.range({ key: prefix, prefix: true });
    keys.clear();
    for (const kv of snapshot.kvs) keys.set(kv.key, kv);
    onChange(keys, snapshot.revision);
    watch = await store.watch(
      { key: prefix, prefix: true, startRevision: snapshot.revision + 1 },
      {
        onResponse: (response) => {
          if (cancelled || response.events.length === 0) return;
          for (const event of response.events) {
            if (event.type === 'put') keys.set(event.kv.key, event.kv);
            else keys.delete(event.kv.key);
          }
          onChange(keys, response.revision);
        },
        onError: (error) => {
          if (cancelled) return;
          if (hasCode(error, KvErrorCode.Compacted)) {
            sync().catch((syncError: unknown) => onError?.(syncError as Error));
          } else {
            onError?.(error);
          }
        },
      },
    );
    if (cancelled) await watch.cancel();
  };

  await sync();
  return {
    cancel: async () => {
      cancelled = true;
      await watch?.cancel();
    },
  };
}
