/**
 * What a leader knows about one follower's log, and how fast it may send to it (etcd's Progress).
 *
 * - probe: we do not know where the follower's log matches ours; send one append at a time and
 *   wait for the answer (or the next heartbeat) before sending another.
 * - replicate: the follower is matching; stream appends without waiting (pipelining), bounded by
 *   `maxInflightMsgs` messages and `maxInflightBytes` bytes not yet acknowledged.
 */
export const ProgressState = { Probe: 'probe', Replicate: 'replicate', Snapshot: 'snapshot' } as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In probe state: an append is outstanding, so wait before sending another. */
  probeSent = false;
  /** Heard from since the leader last checked quorum (check-quorum). */
  recentActive = false;
  /** In snapshot state: the index of the snapshot being sent; appends wait until it lands. */
  pendingSnapshot = 0;
  /** Last index of each append in flight, oldest first, with its size. */
  readonly #inflightLast: number[] = [];
  readonly #inflightBytes: number[] = [];
  #inflightBytesTotal = 0;

  constructor(next: number) {
    this.next = next;
  }

  get inflightCount(): number {
    return this.#inflightLast.length;
  }

  isPaused(maxInflightMsgs: number, maxInflightBytes: number): boolean {
    if (this.state === ProgressState.Snapshot) return true;
    if (this.state === ProgressState.Probe) return this.probeSent;
    return this.#inflightLast.length >= maxInflightMsgs || this.#inflightBytesTotal >= maxInflightBytes;
  }

  becomeProbe(): void {
    this.state = ProgressState.Probe;
    this.next = this.match + 1;
    this.probeSent = false;
    this.#clearInflights();
  }

  /** The follower needs entries we compacted: send it the snapshot at `index` instead. */
  becomeSnapshot(index: number): void {
    this.state = ProgressState.Snapshot;
    this.pendingSnapshot = index;
    this.probeSent = false;
    this.#clearInflights();
  }

  /** The snapshot transfer ended; probe from after it (on success) or from the match (on failure). */
  snapshotDone(succeeded: boolean): void {
    const next = succeeded ? Math.max(this.match, this.pendingSnapshot) + 1 : this.match + 1;
    this.becomeProbe();
    this.next = next;
    this.pendingSnapshot = 0;
    // After a failure, wait for the next heartbeat response before trying again (no hot retry loop).
    this.probeSent = !succeeded;
  }

  becomeReplicate(): void {
    this.state = ProgressState.Replicate;
    this.next = this.match + 1;
    this.probeSent = false;
    this.#clearInflights();
  }

  /** Record an append that covers up to `lastIndex` (pipelining moves `next` optimistically). */
  sent(lastIndex: number, bytes: number, hadEntries: boolean): void {
    if (this.state === ProgressState.Replicate) {
      if (hadEntries) {
        this.next = lastIndex + 1;
        this.#inflightLast.push(lastIndex);
        this.#inflightBytes.push(bytes);
        this.#inflightBytesTotal += bytes;
      }
    } else {
      this.probeSent = true;
    }
  }

  /** The follower has everything up to `index`. Returns true if this was news. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    while (this.#inflightLast.length > 0 && this.#inflightLast[0]! <= index) {
      this.#inflightLast.shift();
      this.#inflightBytesTotal -= this.#inflightBytes.shift()!;
    }
    return updated;
  }

  /**
   * The follower rejected an append at `rejectedIndex`; `hintNext` is where to try next.
   * Returns false for a stale rejection that we should ignore.
   */
  maybeDecrease(rejectedIndex: number, hintNext: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejectedIndex <= this.match) return false; // stale: already matched past it
      this.becomeProbe();
      this.next = Math.max(this.match + 1, Math.min(hintNext, rejectedIndex));
      return true;
    }
    if (this.next - 1 !== rejectedIndex) return false; // stale: not the probe we sent
    this.next = Math.max(this.match + 1, Math.min(hintNext, rejectedIndex));
    this.probeSent = false;
    return true;
  }

  #clearInflights(): void {
    this.#inflightLast.length = 0;
    this.#inflightBytes.length = 0;
    this.#inflightBytesTotal = 0;
  }
}
