import assert from 'node:assert/strict';
import { Random } from '../core/random.ts';
import type { RaftNode } from '../raft/node.ts';
import { hasCode } from '../core/errors.ts';
import { FileStorage } from '../storage/file-storage.ts';
import { SimDisk } from '../storage/sim-disk.ts';
import { HistoryRecorder } from './history.ts';
import { checkLinearizable } from './linearizability.ts';
import { kvModel, type KvInput, type KvOutput } from './models/kv.ts';
import { RaftSimulation, addressOf, type kvMachine } from './raft-sim.ts';

/**
 * One random fault schedule for a Raft cluster of 3, 5 or 7 nodes: crashes and restarts,
 * symmetric and one-way partitions, message loss, duplication and reordering, membership changes
 * (add, remove), leadership transfers, and occasionally a disaster recovered with `solo` followed
 * by growing the cluster back, and `reset` of a removed node. The simulator checks Raft's
 * invariants after every event; at the end the network heals and every write acknowledged by the
 * surviving cluster must be in its log. Deterministic in `seed`; throws on any violation.
 */
type Kv = ReturnType<typeof kvMachine>['state'];

interface Ack {
  readonly clusterId: string;
  readonly value: number;
}

export async function randomRaftSchedule(seed: number): Promise<void> {
  const rng = new Random(seed ^ 0x5eed);
  const size = rng.pick([3, 3, 5, 5, 7]);
  // Half the runs keep each node's log in the real write-ahead log on a simulated disk that loses
  // unsynced writes (and tears the last one) whenever the node crashes.
  const useDisk = rng.chance(0.5);
  const disks = new Map<string, SimDisk>();
  const diskOf = (id: string): SimDisk => {
    let disk = disks.get(id);
    if (disk === undefined) {
      disk = new SimDisk({ random: rng.fork() });
      disks.set(id, disk);
    }
    return disk;
  };
  const sim = new RaftSimulation({
    ...(useDisk
      ? {
          storage: (id: string) => new FileStorage(`/data/${id}`, { nodeId: id, disk: diskOf(id).view() }),
          onCrash: (id: string) => {
            diskOf(id).crash({ tear: rng.chance(0.5) });
          },
        }
      : {}),
    seed,
    faults: {
      minDelayMs: 1,
      maxDelayMs: rng.pick([3, 10, 30]),
      lossRate: rng.pick([0, 0, 0.02, 0.1]),
      duplicateRate: rng.pick([0, 0.02]),
    },
    nodeOptions: {
      requestTimeoutMs: 1_000,
      // Half the runs snapshot often (tiny chunks), so compaction and InstallSnapshot race
      // with everything else.
      ...(rng.chance(0.5)
        ? {
            snapshotEveryEntries: rng.pick([10, 30]),
            keepEntriesAfterSnapshot: rng.pick([0, 5]),
            snapshotChunkBytes: 128,
          }
        : {}),
    },
  });
  const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  sim.bootstrap(ids);
  const crashed = new Set<string>();
  const gone = new Set<string>(); // crashed for good (after a disaster)
  const acks: Ack[] = [];
  const history = new HistoryRecorder<KvInput, KvOutput>(sim.clock);
  /** A timeout or a stop may or may not have taken effect; any other rejection did not. */
  const record = (id: number, e: unknown): void => {
    if (hasCode(e, 'SKEIN_TIMEOUT') || hasCode(e, 'SKEIN_STOPPED')) history.timeout(id);
    else history.fail(id);
  };
  let nextValue = 1;
  let nextNodeId = size + 1;
  let soloDone = false;

  const live = (): RaftNode[] => sim.liveNodes();
  /** Nodes that are down (crashed, or stopped by their disk) and not lost for good. */
  const downIds = (): string[] => sim.ids.filter((id) => sim.isDown(id) && !gone.has(id));
  const ignore = (): void => undefined;

  const steps = 25;
  for (let step = 0; step < steps; step++) {
    const roll = rng.int(100);
    const nodes = live();
    if (roll < 40 && nodes.length > 0) {
      for (let k = 0; k < 1 + rng.int(4); k++) {
        const node = rng.pick(nodes);
        const key = `k${rng.int(5)}`;
        const op = rng.int(10);
        if (op < 5) {
          const value = nextValue++;
          const id = history.invoke(node.id, { op: 'put', key, value });
          node.enqueue('set', { key, value }).then(
            () => {
              acks.push({ clusterId: node.core.clusterId, value });
              history.ok(id, null);
            },
            (e: unknown) => {
              record(id, e);
            },
          );
        } else if (op < 7) {
          const value = nextValue++;
          const expected = rng.chance(0.5) ? null : rng.int(nextValue);
          const id = history.invoke(node.id, { op: 'cas', key, expected, value });
          node.enqueue('cas', { key, expected, value }).then(
            (swapped) => {
              history.ok(id, swapped as boolean);
            },
            (e: unknown) => {
              record(id, e);
            },
          );
        } else {
          const id = history.invoke(node.id, { op: 'get', key });
          const machineOf = (): Kv => sim.machine(node.id).state as Kv;
          node
            .read(() => machineOf().data.get(key) ?? null)
            .then(
              (value) => {
                history.ok(id, value as KvOutput);
              },
              () => {
                history.fail(id); // a read that failed had no effect
              },
            );
        }
      }
    } else if (roll < 52 && nodes.length > 0) {
      const victim = rng.pick(nodes).id;
      sim.crash(victim);
      crashed.add(victim);
    } else if (roll < 62 && downIds().length > 0) {
      const back = rng.pick(downIds());
      crashed.delete(back);
      sim.restart(back);
    } else if (roll < 65 && useDisk && nodes.length > 0) {
      // The node's disk dies within its next few operations: a crash at a write boundary.
      const disk = diskOf(rng.pick(nodes).id);
      disk.crashAfterOps = disk.opCount + rng.int(6);
    } else if (roll < 70) {
      const all = sim.ids;
      const side = all.filter(() => rng.chance(0.5));
      sim.network.partition(
        side,
        all.filter((id) => !side.includes(id)),
      );
    } else if (roll < 74) {
      const all = sim.ids;
      sim.network.blockLink(rng.pick(all), rng.pick(all));
    } else if (roll < 80) {
      sim.network.heal();
    } else if (roll < 85) {
      const leader = sim.leader();
      if (leader !== undefined) {
        const voters = Object.keys(leader.core.config.voters).filter((id) => id !== leader.id);
        if (voters.length > 0) leader.transferLeadership(rng.pick(voters)).catch(ignore);
      }
    } else if (roll < 91) {
      const leader = sim.leader();
      if (leader !== undefined) {
        const id = `n${nextNodeId++}`;
        sim.startNode(id);
        leader.attachNodes({ [id]: addressOf(id) }).catch(ignore);
      }
    } else if (roll < 96) {
      const leader = sim.leader();
      if (leader !== undefined) {
        const voters = Object.keys(leader.core.config.voters);
        if (voters.length > 1) leader.detachNodes([rng.pick(voters)]).catch(ignore);
      }
    } else if (!soloDone && nodes.length > 0) {
      // Disaster: every other member is lost for good; the survivor goes solo and grows back.
      soloDone = true;
      const survivor = rng.pick(nodes);
      for (const id of sim.ids) {
        if (id !== survivor.id) {
          sim.crash(id);
          gone.add(id);
          crashed.delete(id);
        }
      }
      sim.network.heal();
      if (useDisk) diskOf(survivor.id).crashAfterOps = null; // the survivor must survive the disaster
      await sim.settle(survivor.solo(), 5_000);
      const fresh = `n${nextNodeId++}`;
      sim.startNode(fresh);
      survivor.attachNodes({ [fresh]: addressOf(fresh) }).catch(ignore);
    } else {
      // Reset a node that has left its cluster — as an operator should: only once that cluster has
      // a leader outside joint consensus (until then its vote may still be needed).
      const isIn = (c: RaftNode['core']['config'], id: string): boolean =>
        [c.voters, c.outgoing, c.learners].some((m) => Object.hasOwn(m, id));
      for (const node of nodes) {
        const s = node.status();
        const leader = sim.leader(s.clusterId);
        const movedOn =
          leader !== undefined &&
          Object.keys(leader.core.config.outgoing).length === 0 &&
          !isIn(leader.core.config, node.id);
        if (!isIn(s.config, node.id) && s.lastIndex > 0 && s.role !== 'leader' && movedOn) {
          await sim.reset(node.id).catch(() => undefined); // its disk may fail it mid-reset
          break;
        }
      }
    }
    await sim.runFor(rng.intBetween(5, 300));
  }

  // Heal everything and let the cluster settle.
  sim.network.heal();
  sim.network.setDefaultFaults({ lossRate: 0, duplicateRate: 0 });
  for (const disk of disks.values()) disk.crashAfterOps = null; // no more faults from here on
  for (const id of downIds()) sim.restart(id);
  await sim.runFor(3_000);
  sim.checkLogMatching();
  // A leader that removed itself is still handing over; wait for one that is a member.
  await sim.runUntil(() => sim.leader() !== undefined && !sim.leader()!.core.leaving, 5_000);
  const leader = sim.leader();
  if (leader === undefined && process.env['SKEIN_DEBUG'] !== undefined) {
    for (const id of sim.ids) {
      const n = sim.node(id);
      console.log(id, gone.has(id) ? 'gone' : '', n === undefined ? 'down' : JSON.stringify(n.status()));
    }
  }
  assert.ok(leader !== undefined, 'a leader after healing');
  // Drive one more write through so the leader has committed everything from earlier terms.
  await sim.settle(leader.enqueue('set', { key: 'final', value: 0 }), 5_000);
  const clusterId = leader.core.clusterId;
  // The leader's state machine holds every value it applied (the log may be compacted).
  const committed = new Set((sim.machine(leader.id).state as { history: unknown[] }).history);
  if (!soloDone) {
    // Every client operation must be linearizable (solo may drop acknowledged writes by design).
    const verdict = checkLinearizable(kvModel, history, { timeoutMs: 10_000 });
    assert.notEqual(
      verdict.result,
      'illegal',
      `history not linearizable: ${JSON.stringify(verdict.counterexample)}`,
    );
  }
  for (const ack of acks) {
    if (ack.clusterId !== clusterId) continue; // acknowledged by a cluster that solo left behind
    assert.ok(committed.has(ack.value), `acknowledged write ${ack.value} is missing from the log`);
  }
}
