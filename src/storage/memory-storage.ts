import type { Entry, HardState } from '../raft/types.ts';
import type { PersistBatch, RaftStorage, RecoveredState } from './types.ts';

const emptyHardState: HardState = { term: 0, vote: null, commit: 0, clusterId: '' };

/**
 * Storage that lives in memory and completes synchronously. It survives a simulated crash (the
 * simulator keeps the object and restarts the node from it) but not a process exit: use it for
 * tests, the simulator, and nodes that re-join from peers on restart.
 */
export class MemoryStorage implements RaftStorage {
  hardState: HardState = emptyHardState;
  entries: Entry[] = [];
  /** Number of persist calls, for tests. */
  persistCount = 0;

  load(): RecoveredState {
    return { hardState: this.hardState, entries: [...this.entries] };
  }

  persist(batch: PersistBatch): void {
    this.persistCount++;
    if (batch.reset) {
      this.hardState = emptyHardState;
      this.entries = [];
    }
    if (batch.truncateFrom !== null) this.entries.length = Math.max(0, batch.truncateFrom - 1);
    for (const e of batch.entries) {
      if (e.index <= this.entries.length) this.entries.length = e.index - 1;
      this.entries.push(e);
    }
    if (batch.hardState !== null) this.hardState = batch.hardState;
  }

  close(): void {
    // Nothing to release.
  }
}
