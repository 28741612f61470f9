import { crc32c } from '../core/crc32c.ts';
import { KvStore } from '../kv/store.ts';
import type { Processor } from '../raft/node-options.ts';
import type { NodeId } from '../raft/types.ts';
import type { RaftSimulation, SimMachine } from './raft-sim.ts';

/** What one member's store looked like right after it applied one command. */
export interface KvApplyRecord {
  readonly revision: number;
  /** CRC-32C of the store's snapshot bytes at that point. */
  readonly digest: number;
  /** A snapshot was installed since the previous command (the revision may have jumped). */
  readonly afterRestore: boolean;
}

/** The inspectable state of a {@link kvStoreMachine}. */
export interface KvSimState {
  readonly store: KvStore;
  /** One record per command this incarnation applied, in order (rejected commands included). */
  readonly applies: KvApplyRecord[];
}

/** CRC-32C over every frame of `store.snapshot()`: equal digests for equal snapshot bytes (whp). */
export function snapshotDigest(store: KvStore): number {
  let crc = 0;
  for (const frame of store.snapshot()) crc = crc32c(frame, crc);
  return crc;
}

/**
 * A {@link SimMachine} running a real {@link KvStore}: its processors, with the store itself as
 * the snapshot state machine (so a simulated node snapshots, compacts its log and installs
 * snapshots exactly as `skein server` does). Each processor is wrapped to record the store's
 * revision and snapshot digest after the command, so that {@link KvMemberInvariants} can compare
 * members command by command.
 */
export function kvStoreMachine(): SimMachine & { state: KvSimState } {
  const store = new KvStore();
  const applies: KvApplyRecord[] = [];
  const processors: Record<string, Processor> = {};
  let restored = false;
  store.onRestore(() => {
    restored = true;
  });
  for (const [action, processor] of Object.entries(store.processors())) {
    processors[action] = (params) => {
      try {
        return processor(params);
      } finally {
        applies.push({ revision: store.revision, digest: snapshotDigest(store), afterRestore: restored });
        restored = false;
      }
    };
  }
  return { processors, stateMachine: store, state: { store, applies } };
}

/** The KvStore state of the current incarnation of `id` (which must have started). */
export function kvStateOf(sim: RaftSimulation, id: NodeId): KvSimState {
  return sim.machine(id).state as KvSimState;
}

/**
 * etcd's cross-member invariants for a simulation whose machines are {@link kvStoreMachine}s:
 * every member that applied log index i has the same revision and the same snapshot bytes after
 * it (so the same revision sequence), and within one member the revision never goes back and
 * grows by at most one per command. Call {@link check} often (at least before crashing a node:
 * records of a crashed incarnation are gone with it).
 */
export class KvMemberInvariants {
  readonly #byIndex = new Map<number, KvApplyRecord & { readonly node: NodeId }>();
  /** How many records of each incarnation's state were checked already. */
  readonly #cursors = new WeakMap<KvSimState, number>();
  #checked = 0;

  /** Commands compared so far (for reports). */
  get checked(): number {
    return this.#checked;
  }

  check(sim: RaftSimulation): void {
    for (const id of sim.ids) {
      if (sim.node(id) === undefined) continue;
      const state = kvStateOf(sim, id);
      const applied = sim.appliedBy(id);
      if (applied.length !== state.applies.length) {
        throw new Error(
          `${id} applied ${applied.length} commands but its store ran ${state.applies.length} processors`,
        );
      }
      const from = this.#cursors.get(state) ?? 0;
      for (let i = from; i < applied.length; i++) {
        this.#compare(id, applied[i]!.index, state.applies[i]!, i === 0 ? undefined : state.applies[i - 1]);
      }
      this.#cursors.set(state, applied.length);
    }
  }

  #compare(id: NodeId, index: number, record: KvApplyRecord, previous: KvApplyRecord | undefined): void {
    this.#checked++;
    const jumped = previous === undefined || record.afterRestore;
    if (!jumped && (record.revision < previous.revision || record.revision > previous.revision + 1)) {
      throw new Error(
        `${id}: revision went from ${previous.revision} to ${record.revision} at index ${index}`,
      );
    }
    const seen = this.#byIndex.get(index);
    if (seen === undefined) {
      this.#byIndex.set(index, { ...record, node: id });
      return;
    }
    if (seen.revision !== record.revision || seen.digest !== record.digest) {
      throw new Error(
        `members diverged at log index ${index}: ${seen.node} has revision ${seen.revision} ` +
          `(snapshot crc ${seen.digest.toString(16)}), ${id} has revision ${record.revision} ` +
          `(snapshot crc ${record.digest.toString(16)})`,
      );
    }
  }
}
