import type { Entry, HardState } from '../raft/types.ts';
import type { PersistBatch, RaftStorage, RecoveredState, SnapshotMeta, SnapshotReader } from './types.ts';

const emptyHardState: HardState = { term: 0, vote: null, commit: 0, clusterId: '' };

/**
 * Storage that lives in memory and completes synchronously. It survives a simulated crash (the
 * simulator keeps the object and restarts the node from it) but not a process exit: use it for
 * tests, the simulator, and nodes that re-join from peers under a new id on restart.
 */
export class MemoryStorage implements RaftStorage {
  hardState: HardState = emptyHardState;
  /** Entries after the snapshot: entries[i].index === firstIndex + i. */
  entries: Entry[] = [];
  snapshot: { meta: SnapshotMeta; data: Uint8Array } | null = null;
  /** Number of persist calls, for tests. */
  persistCount = 0;

  /** Index of the entry before entries[0] (entries are contiguous from offset + 1). */
  #offset = 0;

  load(): RecoveredState {
    const snapIndex = this.snapshot?.meta.index ?? 0;
    return {
      hardState: this.hardState,
      entries: this.entries.filter((e) => e.index > snapIndex),
      ...(this.snapshot === null ? {} : { snapshot: this.snapshot.meta }),
    };
  }

  persist(batch: PersistBatch): void {
    this.persistCount++;
    if (batch.reset) {
      this.hardState = emptyHardState;
      this.entries = [];
      this.snapshot = null;
      this.#offset = 0;
    }
    if (batch.truncateFrom !== null) this.entries.length = Math.max(0, batch.truncateFrom - 1 - this.#offset);
    for (const e of batch.entries) {
      if (this.entries.length === 0 && e.index !== this.#offset + 1) this.#offset = e.index - 1;
      const at = e.index - 1 - this.#offset;
      if (at < 0) continue;
      if (at < this.entries.length) this.entries.length = at;
      this.entries.push(e);
    }
    if (batch.hardState !== null) this.hardState = batch.hardState;
  }

  async saveSnapshot(meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const chunk of chunks) parts.push(chunk);
    const data = Buffer.concat(parts);
    this.snapshot = { meta: { ...meta, sizeBytes: data.byteLength }, data };
  }

  openSnapshot(): Promise<SnapshotReader | null> {
    const snap = this.snapshot;
    if (snap === null) return Promise.resolve(null);
    return Promise.resolve({
      meta: snap.meta,
      async *chunks(chunkBytes: number) {
        for (let at = 0; at < snap.data.byteLength; at += chunkBytes) {
          yield await Promise.resolve(snap.data.subarray(at, at + chunkBytes));
        }
      },
    });
  }

  compact(index: number): void {
    const drop = Math.min(this.entries.length, Math.max(0, index - this.#offset));
    this.entries = this.entries.slice(drop);
    this.#offset += drop;
    if (this.entries.length === 0) this.#offset = Math.max(this.#offset, index);
  }

  close(): void {
    // Nothing to release.
  }
}
