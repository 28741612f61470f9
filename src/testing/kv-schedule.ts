import { Random } from '../core/random.ts';
import type { RaftNode } from '../raft/node.ts';
import { HistoryRecorder } from './history.ts';
import { checkLinearizable, type CheckVerdict } from './linearizability.ts';
import { DefaultKeySpace, KvSimClients, type KvTarget } from './kv-clients.ts';
import { KvMemberInvariants, kvStateOf, kvStoreMachine, snapshotDigest } from './kv-machine.ts';
import { kvGroupModel, type KvGroupInput, type KvGroupOutput } from './kv-model.ts';
import { RaftSimulation } from './raft-sim.ts';

/** What one {@link randomKvSchedule} run did, for reports and for asserting that it did something. */
export interface KvScheduleStats {
  readonly seed: number;
  readonly nodes: number;
  readonly operations: number;
  readonly indeterminate: number;
  readonly crashes: number;
  readonly transfers: number;
  readonly partitions: number;
  /** Commands compared across members by {@link KvMemberInvariants}. */
  readonly commandsCompared: number;
  readonly snapshotsTaken: number;
  readonly verdict: CheckVerdict;
}

/** Knobs of {@link randomKvSchedule}. */
export interface KvScheduleOptions {
  /**
   * InstallSnapshot chunk size. Default: 512 B or 64 KiB. Chunks much smaller than a snapshot
   * (64 B) make transfers resume mid-stream, which currently stalls some seeds (a snapshot
   * sender bug, see the test).
   */
  readonly snapshotChunkBytes?: number;
}

/**
 * One random fault schedule against a simulated skein/kv cluster (3 or 5 members, each a real
 * RaftNode with a real KvStore, snapshotting every few entries so that log compaction and
 * InstallSnapshot race with everything else): crashes and restarts, symmetric and one-way
 * partitions, loss and duplication, leadership transfers and MVCC compactions, while clients
 * issue put / linearizable get / CAS txn / delete / multi-key txn / prefix range / prefix delete.
 *
 * Raft's invariants are checked after every event and etcd's member invariants (same revision
 * and identical snapshot bytes after every log index) as the run goes. At the end the network
 * heals, every group is read back, the history must be linearizable ({@link kvGroupModel}) and
 * members at the same applied index must hold identical snapshot bytes. Deterministic in
 * `seed`; throws on any violation.
 */
export async function randomKvSchedule(
  seed: number,
  options: KvScheduleOptions = {},
): Promise<KvScheduleStats> {
  const rng = new Random(seed ^ 0x6b76);
  const size = rng.pick([3, 3, 5]);
  const sim = new RaftSimulation({
    seed,
    machine: () => kvStoreMachine(),
    faults: {
      minDelayMs: 1,
      maxDelayMs: rng.pick([3, 10, 30]),
      lossRate: rng.pick([0, 0.02, 0.1]),
      duplicateRate: rng.pick([0, 0.02]),
    },
    nodeOptions: {
      requestTimeoutMs: 1_000,
      snapshotEveryEntries: rng.pick([5, 10, 30]),
      keepEntriesAfterSnapshot: rng.pick([0, 5]),
      snapshotChunkBytes: options.snapshotChunkBytes ?? rng.pick([512, 65_536]),
    },
  });
  const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  sim.bootstrap(ids);
  await sim.runUntil(() => sim.leader() !== undefined, 5_000);
  const members = new KvMemberInvariants();
  const history = new HistoryRecorder<KvGroupInput, KvGroupOutput>(sim.clock);
  const clients = new KvSimClients(history, rng.fork());
  const counts: FaultCounts = { crashes: 0, transfers: 0, partitions: 0 };
  let client = 0;
  const target = (node: RaftNode): KvTarget => ({
    clientId: `c${client++}`,
    node,
    store: () => kvStateOf(sim, node.id).store,
  });

  for (let step = 0; step < 30; step++) {
    members.check(sim); // before any crash: a crashed incarnation's records go with it
    const nodes = sim.liveNodes();
    const roll = rng.int(100);
    if (roll < 50 && nodes.length > 0) {
      for (let k = 1 + rng.int(8); k > 0; k--) clients.issue(target(rng.pick(nodes)));
    } else {
      injectFault(sim, rng, roll, counts);
    }
    await sim.runFor(rng.intBetween(5, 300));
  }

  await healAndSettle(sim);
  members.check(sim);
  const leader = sim.leader()!;
  for (const group of DefaultKeySpace.groups) {
    await sim.settle(clients.readAll(target(leader), group), 5_000);
  }
  checkSnapshotsAgree(sim);
  const verdict = checkLinearizable(kvGroupModel, history, { timeoutMs: 10_000 });
  if (verdict.result === 'illegal') {
    throw new Error(`history not linearizable:\n${verdict.counterexample?.text ?? ''}`);
  }
  const operations = history.operations();
  return {
    seed,
    nodes: size,
    operations: operations.length,
    indeterminate: operations.filter((op) => op.return === Infinity).length,
    ...counts,
    commandsCompared: members.checked,
    snapshotsTaken: Math.max(...sim.liveNodes().map((n) => n.status().snapshotIndex)),
    verdict: verdict.result,
  };
}

type FaultCounts = { crashes: number; transfers: number; partitions: number };

/**
 * One fault, chosen by `roll` (0–99; below 50 only when no node is up): crash, restart, partition, one-way block, heal, leadership transfer, or MVCC
 * compaction (replicated through the log: history goes, current values must not).
 */
function injectFault(sim: RaftSimulation, rng: Random, roll: number, counts: FaultCounts): void {
  const nodes = sim.liveNodes();
  const down = sim.ids.filter((id) => sim.isDown(id));
  const leader = sim.leader();
  if (roll < 60 && nodes.length > 0) {
    sim.crash(rng.pick(nodes).id);
    counts.crashes++;
  } else if (roll < 70 && down.length > 0) {
    sim.restart(rng.pick(down));
  } else if (roll < 76) {
    const side = sim.ids.filter(() => rng.chance(0.5));
    sim.network.partition(
      side,
      sim.ids.filter((id) => !side.includes(id)),
    );
    counts.partitions++;
  } else if (roll < 80) {
    sim.network.blockLink(rng.pick(sim.ids), rng.pick(sim.ids));
    counts.partitions++;
  } else if (roll < 87) {
    sim.network.heal();
  } else if (roll < 95) {
    const others =
      leader === undefined ? [] : Object.keys(leader.core.config.voters).filter((id) => id !== leader.id);
    if (leader !== undefined && others.length > 0) {
      leader.transferLeadership(rng.pick(others)).catch(() => undefined);
      counts.transfers++;
    }
  } else if (leader !== undefined) {
    const revision = kvStateOf(sim, leader.id).store.revision - rng.int(3);
    if (revision > 0) leader.enqueue('compact', { revision }).catch(() => undefined);
  }
}

/** Heal the network, restart every crashed member, and wait until all have applied everything. */
async function healAndSettle(sim: RaftSimulation): Promise<void> {
  sim.network.heal();
  sim.network.setDefaultFaults({ lossRate: 0, duplicateRate: 0 });
  for (const id of sim.ids) if (sim.isDown(id)) sim.restart(id);
  await sim.runFor(3_000);
  sim.checkLogMatching();
  if (!(await sim.runUntil(() => sim.leader() !== undefined, 5_000)))
    throw new Error('no leader after healing');
  // One more write, so the leader has committed everything from earlier terms; then all catch up.
  const leader = sim.leader()!;
  await sim.settle(leader.enqueue('put', { key: 'final', value: '' }), 5_000);
  const commit = leader.status().commitIndex;
  const caughtUp = (): boolean => sim.liveNodes().every((n) => n.status().appliedIndex >= commit);
  if (!(await sim.runUntil(caughtUp, 5_000))) {
    const behind = sim.liveNodes().map((n) => JSON.stringify(n.status()));
    throw new Error(`members did not apply up to ${commit}:\n${behind.join('\n')}`);
  }
}

/** Members that applied the same index hold byte-identical snapshots (not just equal digests). */
function checkSnapshotsAgree(sim: RaftSimulation): void {
  const byIndex = new Map<number, { id: string; bytes: Buffer }>();
  for (const node of sim.liveNodes()) {
    const store = kvStateOf(sim, node.id).store;
    const bytes = Buffer.concat(store.snapshot());
    const index = node.status().appliedIndex;
    const other = byIndex.get(index);
    if (other === undefined) byIndex.set(index, { id: node.id, bytes });
    else if (!other.bytes.equals(bytes)) {
      throw new Error(
        `${other.id} and ${node.id} applied index ${index} but their snapshots differ ` +
          `(crc ${snapshotDigest(kvStateOf(sim, other.id).store).toString(16)} vs ${snapshotDigest(store).toString(16)})`,
      );
    }
  }
}
