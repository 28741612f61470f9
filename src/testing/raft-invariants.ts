import type { RaftCore } from '../raft/raft.ts';
import { EntryKind, type Entry } from '../raft/types.ts';

/** What identifies an entry's content for comparisons between nodes. */
function signature(e: Entry): string {
  if (e.kind === EntryKind.Normal) {
    const data = e.data;
    const body = data instanceof Uint8Array ? Buffer.from(data).toString('base64') : JSON.stringify(data);
    return `${e.term}:n:${body}`;
  }
  if (e.kind === EntryKind.Config) return `${e.term}:c:${JSON.stringify(e.data)}`;
  return `${e.term}:noop`;
}

/** A committed position whose entry was compacted before any node showed it to the checker. */
const unknownEntry = '?';

/** Raised when a Raft safety property is broken. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

/**
 * Checks Raft's safety properties across a set of cores, after every simulator event:
 * election safety (one leader per cluster and term), log matching, leader completeness,
 * state-machine safety (every node commits the same entry at an index), commit index monotonic,
 * leader append-only, and applied entries being a prefix of the committed log.
 *
 * Histories are kept per cluster id; `solo` starts a new cluster that inherits the committed
 * prefix of the old one.
 */
export class RaftInvariants {
  /** clusterId → committed entry signatures by index (index 0 unused). */
  readonly #committed = new Map<string, string[]>();
  /** `${clusterId}/${term}` → leader id. */
  readonly #leaders = new Map<string, string>();
  readonly #lastCommit = new Map<string, { clusterId: string; commit: number }>();
  readonly #leaderState = new Map<
    string,
    { term: number; lastIndex: number; lastTerm: number; checked: number }
  >();
  readonly #lastApplied = new Map<string, number>();
  checks = 0;

  /**
   * A node restarted: its commit index is volatile (Raft §5) and may come back lower than it was,
   * as far as what reached disk. Its committed entries are re-verified from the start instead.
   */
  restarted(id: string): void {
    const prev = this.#lastCommit.get(id);
    if (prev !== undefined) this.#lastCommit.set(id, { clusterId: prev.clusterId, commit: 0 });
    this.#leaderState.delete(id);
  }

  /** Forget per-node history (after a reset, the node's term and commit legitimately restart). */
  forgetNode(id: string): void {
    this.#lastCommit.delete(id);
    this.#leaderState.delete(id);
    this.#lastApplied.delete(id);
  }

  /** The committed history of a cluster, as signatures. */
  committedLength(clusterId: string): number {
    return (this.#committed.get(clusterId)?.length ?? 1) - 1;
  }

  /** Check every live core. `cores` maps node id → core. */
  check(cores: ReadonlyMap<string, RaftCore>): void {
    this.checks++;
    for (const [id, core] of cores) {
      this.#checkCommit(id, core);
      this.#checkLeader(id, core);
    }
  }

  #history(clusterId: string, inheritFrom: string | undefined, upTo: number): string[] {
    let h = this.#committed.get(clusterId);
    if (h === undefined) {
      const parent = inheritFrom === undefined ? undefined : this.#committed.get(inheritFrom);
      h = parent === undefined ? [''] : parent.slice(0, upTo + 1);
      this.#committed.set(clusterId, h);
    }
    return h;
  }

  #checkCommit(id: string, core: RaftCore): void {
    const log = core.log;
    const clusterId = core.clusterId;
    const prev = this.#lastCommit.get(id);
    if (prev !== undefined && log.commitIndex < prev.commit) {
      throw new InvariantViolation(`${id}: commit index went back from ${prev.commit} to ${log.commitIndex}`);
    }
    if (log.appliedIndex > log.commitIndex) {
      throw new InvariantViolation(`${id}: applied ${log.appliedIndex} > commit ${log.commitIndex}`);
    }
    if (clusterId === '') {
      this.#lastCommit.set(id, { clusterId: prev?.clusterId ?? '', commit: log.commitIndex });
      return;
    }
    const history = this.#history(clusterId, prev?.clusterId, prev?.commit ?? 0);
    const from = prev?.clusterId === clusterId ? prev.commit + 1 : Math.max(log.snapshotIndex + 1, 1);
    for (let i = from; i <= log.commitIndex; i++) {
      const e = log.entry(i);
      if (e === undefined) {
        // Compacted into a snapshot: committed, content unknown here. Keep the indexes aligned.
        if (i === history.length) history.push(unknownEntry);
        continue;
      }
      const sig = signature(e);
      if (i < history.length && history[i] === unknownEntry) {
        history[i] = sig;
      } else if (i < history.length) {
        if (history[i] !== sig) {
          throw new InvariantViolation(
            `${id}: state-machine safety: committed ${sig} at index ${i} in cluster ${clusterId}, others committed ${history[i]}`,
          );
        }
      } else if (i === history.length) {
        history.push(sig);
      } else {
        throw new InvariantViolation(
          `${id}: committed index ${i} beyond the known history ${history.length - 1}`,
        );
      }
    }
    this.#lastCommit.set(id, { clusterId, commit: log.commitIndex });
  }

  #checkLeader(id: string, core: RaftCore): void {
    if (core.role !== 'leader') {
      this.#leaderState.delete(id);
      return;
    }
    const key = `${core.clusterId}/${core.term}`;
    const other = this.#leaders.get(key);
    if (other !== undefined && other !== id) {
      throw new InvariantViolation(
        `election safety: ${other} and ${id} both lead term ${core.term} of ${core.clusterId}`,
      );
    }
    this.#leaders.set(key, id);
    const log = core.log;
    const state = this.#leaderState.get(id);
    if (state?.term === core.term) {
      // Leader append-only: a leader never overwrites or deletes entries in its own log.
      if (log.lastIndex < state.lastIndex || log.term(state.lastIndex) !== state.lastTerm) {
        throw new InvariantViolation(
          `${id}: leader of term ${core.term} rewrote its log at ${state.lastIndex}`,
        );
      }
    }
    // Leader completeness: every entry committed in an earlier term is in the leader's log. (A
    // deposed leader that has not heard of its successor legitimately lacks newer entries.)
    const history = this.#committed.get(core.clusterId) ?? [''];
    let checked = state?.term === core.term ? state.checked : 0;
    for (let i = Math.max(checked + 1, log.snapshotIndex + 1); i < history.length; i++) {
      if (history[i] === unknownEntry) {
        checked = i;
        continue;
      }
      if (Number.parseInt(history[i]!, 10) >= core.term) break;
      const e = log.entry(i);
      if (e === undefined || signature(e) !== history[i]) {
        throw new InvariantViolation(
          `${id}: leader completeness: leader of term ${core.term} lacks committed entry ${i} (${history[i]})`,
        );
      }
      checked = i;
    }
    this.#leaderState.set(id, { term: core.term, lastIndex: log.lastIndex, lastTerm: log.lastTerm, checked });
  }

  /** Log matching over all pairs of cores in the same cluster (costly: run it every so often). */
  checkLogMatching(cores: ReadonlyMap<string, RaftCore>): void {
    const list = [...cores.entries()];
    for (let a = 0; a < list.length; a++) {
      for (let b = a + 1; b < list.length; b++) {
        const [ia, ca] = list[a]!;
        const [ib, cb] = list[b]!;
        if (ca.clusterId !== cb.clusterId || ca.clusterId === '') continue;
        const hi = Math.min(ca.log.lastIndex, cb.log.lastIndex);
        const lo = Math.max(ca.log.snapshotIndex, cb.log.snapshotIndex) + 1;
        let match = -1;
        for (let i = hi; i >= lo; i--) {
          if (ca.log.term(i) === cb.log.term(i)) {
            match = i;
            break;
          }
        }
        for (let i = match; i >= lo; i--) {
          const ea = ca.log.entry(i)!;
          const eb = cb.log.entry(i)!;
          if (signature(ea) !== signature(eb)) {
            throw new InvariantViolation(
              `log matching: ${ia} and ${ib} agree at index ${match} but differ at ${i}: ${signature(ea)} vs ${signature(eb)}`,
            );
          }
        }
      }
    }
  }

  /** Applied entries must follow each other in log order, each one committed. */
  onApplied(id: string, core: RaftCore, index: number): void {
    const last = this.#lastApplied.get(id) ?? 0;
    if (index <= last) throw new InvariantViolation(`${id}: applied ${index} after ${last}`);
    if (index > core.log.commitIndex) {
      throw new InvariantViolation(`${id}: applied ${index} beyond commit ${core.log.commitIndex}`);
    }
    const sig = this.#committed.get(core.clusterId)?.[index];
    const entry = core.log.entry(index);
    if (sig !== undefined && sig !== unknownEntry && entry !== undefined && sig !== signature(entry)) {
      throw new InvariantViolation(`${id}: applied ${signature(entry)} at ${index}, committed was ${sig}`);
    }
    this.#lastApplied.set(id, index);
  }

  resetApplied(id: string): void {
    this.#lastApplied.delete(id);
  }
}
