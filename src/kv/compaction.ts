import { KeyIndex } from './key-index.ts';
import { indexAt, type KvState } from './state.ts';

/**
 * Forget history before `revision` (already checked: compactRevision < revision ≤ revision of the
 * store). As etcd's keyIndex.compact: every key keeps its latest version at or below `revision`
 * unless that version is a tombstone, plus everything after; a key left with no versions is gone.
 * O(keys): compaction is rare, and etcd walks its whole key index too.
 */
export function compact(state: KvState, revision: number): void {
  const keysBefore = state.keys.size;
  state.keys.forEach((versions, key) => {
    if (versions[0]!.modRevision > revision) return;
    const i = indexAt(versions, revision);
    const drop = versions[i]!.version === 0 ? i + 1 : i;
    if (drop === 0) return;
    if (drop === versions.length) {
      state.keys.delete(key);
      versions.length = 0; // marks it for removal from the index below
    } else {
      versions.splice(0, drop);
    }
  });
  if (state.keys.size !== keysBefore)
    state.order = KeyIndex.fromSorted([...state.order].filter((history) => history.length > 0));
  let firstKept = 0;
  while (firstKept < state.log.length && state.log[firstKept]!.modRevision <= revision) firstKept++;
  if (firstKept > 0) state.log = state.log.slice(firstKept);
  state.compactRevision = revision;
}
