import { assert } from '../core/errors.ts';
import type { Entry } from './types.ts';

/**
 * The replicated log as the core sees it: entries after the last snapshot, held in memory, plus
 * three cursors. `stableIndex` is what storage has made durable, `commitIndex` what a quorum has
 * made durable, `appliedIndex` what has been handed to the state machine. Always
 * appliedIndex ≤ commitIndex, and applied entries are always stable.
 */
export class RaftLog {
  /** entries[i].index === snapshotIndex + 1 + i */
  #entries: Entry[] = [];
  snapshotIndex = 0;
  snapshotTerm = 0;
  commitIndex = 0;
  appliedIndex = 0;
  stableIndex = 0;
  /** Lowest index overwritten since the last persist: storage must truncate from here. */
  truncatedFrom: number | null = null;

  constructor(entries: readonly Entry[] = [], snapshotIndex = 0, snapshotTerm = 0) {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    this.#entries = [...entries];
    for (let i = 0; i < this.#entries.length; i++) {
      assert(this.#entries[i]!.index === snapshotIndex + 1 + i, 'log entries must be contiguous');
    }
    this.stableIndex = this.lastIndex;
    this.commitIndex = snapshotIndex;
    this.appliedIndex = snapshotIndex;
  }

  get firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  get lastIndex(): number {
    return this.snapshotIndex + this.#entries.length;
  }

  get lastTerm(): number {
    return this.#entries.length === 0 ? this.snapshotTerm : this.#entries[this.#entries.length - 1]!.term;
  }

  /** The term of entry `index`, or undefined when it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex) return undefined;
    return this.#entries[index - this.snapshotIndex - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshotIndex || index > this.lastIndex) return undefined;
    return this.#entries[index - this.snapshotIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: is a candidate's log at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /** Append entries produced by this node as leader. */
  appendLocal(entries: readonly Entry[]): void {
    for (const e of entries) {
      assert(e.index === this.lastIndex + 1, 'local append must extend the log');
      this.#entries.push(e);
    }
  }

  /**
   * Append entries received from a leader after prevIndex/prevTerm matched. Entries already
   * present with the same term are skipped; the first conflicting entry and everything after it
   * are replaced (never below commitIndex: that would be a safety violation).
   * Returns the index of the last new entry known to match the leader.
   */
  appendFromLeader(prevIndex: number, entries: readonly Entry[]): number {
    let i = 0;
    for (; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index <= this.snapshotIndex) continue;
      const existing = this.term(e.index);
      if (existing === undefined) break;
      if (existing !== e.term) {
        assert(e.index > this.commitIndex, `conflict at ${e.index} would overwrite a committed entry`);
        this.#truncateFrom(e.index);
        break;
      }
    }
    for (; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index <= this.snapshotIndex) continue;
      this.#entries.push(e);
    }
    return prevIndex + entries.length;
  }

  #truncateFrom(index: number): void {
    this.#entries.length = index - this.snapshotIndex - 1;
    if (index <= this.stableIndex) {
      this.stableIndex = index - 1;
      this.truncatedFrom = Math.min(this.truncatedFrom ?? index, index);
    }
  }

  /** Entries in [lo, hi] (inclusive), stopping early once `maxBytes` would be exceeded (at least one). */
  slice(lo: number, hi: number, maxBytes: number, sizeOf: (e: Entry) => number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    const end = Math.min(hi, this.lastIndex);
    for (let index = Math.max(lo, this.firstIndex); index <= end; index++) {
      const e = this.#entries[index - this.snapshotIndex - 1]!;
      bytes += sizeOf(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Entries not yet durable, to hand to storage. */
  unstableEntries(): Entry[] {
    return this.#entries.slice(this.stableIndex - this.snapshotIndex);
  }

  /** Committed, durable entries not yet handed to the state machine (at most `max`). */
  entriesToApply(max: number): Entry[] {
    const hi = Math.min(this.commitIndex, this.stableIndex, this.appliedIndex + max);
    if (hi <= this.appliedIndex) return [];
    return this.#entries.slice(this.appliedIndex - this.snapshotIndex, hi - this.snapshotIndex);
  }

  /**
   * Fast backtracking (etcd's findConflictByTerm): the largest index ≤ `index` whose term is ≤
   * `term`. A leader uses it on a follower's rejection hint to skip a whole term per round trip.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex);
    for (; i > this.snapshotIndex; i--) {
      if (this.term(i)! <= term) return i;
    }
    return i;
  }

  /** Discard everything after commitIndex (used by `solo`, which keeps only committed data). */
  truncateUncommitted(): void {
    if (this.lastIndex > this.commitIndex) this.#truncateFrom(this.commitIndex + 1);
  }

  /**
   * Drop entries up to `index` (inclusive), which a durable snapshot now covers. Entries after it
   * stay, so followers that are only a little behind still catch up from the log.
   */
  compactTo(index: number): void {
    if (index <= this.snapshotIndex) return;
    assert(index <= this.appliedIndex, `cannot compact to ${index} beyond applied ${this.appliedIndex}`);
    const term = this.term(index)!;
    this.#entries = this.#entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }

  /**
   * Install a snapshot received from the leader at (index, term). Entries that agree with it are
   * kept; otherwise the whole log is replaced by the snapshot (storage must drop its entries).
   */
  restoreSnapshot(index: number, term: number): void {
    if (this.matchTerm(index, term)) {
      this.#entries = this.#entries.slice(index - this.snapshotIndex);
    } else {
      this.#entries = [];
      this.truncatedFrom = Math.min(this.truncatedFrom ?? index + 1, index + 1);
    }
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.commitIndex = Math.max(this.commitIndex, index);
    this.appliedIndex = Math.max(this.appliedIndex, index);
    this.stableIndex = Math.max(this.stableIndex, index);
    if (this.stableIndex > this.lastIndex) this.stableIndex = this.lastIndex;
  }

  /** Forget everything: used by `reset`. */
  clear(): void {
    this.#entries = [];
    this.snapshotIndex = 0;
    this.snapshotTerm = 0;
    this.commitIndex = 0;
    this.appliedIndex = 0;
    this.stableIndex = 0;
    this.truncatedFrom = 0;
  }
}
