/**
 * Groups under a random schedule of faults: members join, leave, crash, restart under their old
 * id and get cut off; the coordinator's leader crashes or is partitioned away, with members that
 * can reach only it. The GroupWatch checks every instant (no shared index, one generation in
 * force, stable assignments, agreement with the committed settles); once the faults stop, the
 * group must settle with exactly its live members. `SKEIN_SEED=<n>` replays one seed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GroupMember } from '../membership/member.ts';
import { SIM_MAX_ELECTION_MS } from './groups-sim-harness.ts';
import {
  COMMIT_SLACK_MS,
  describe,
  forEachSeed,
  GROUP,
  HEAR_MS,
  join,
  REJOIN_MS,
  SETTLE_MS,
  settledAs,
  startGroup,
  TTL_SECONDS,
  type World,
} from './groups-sim-world.ts';

const STEPS = 24;
/** Seeds by default (a run is ~0.5 s of CPU); `SKEIN_SIM_SEEDS` runs more. */
const CHAOS_SEEDS = 8;
const ACTIONS = [
  'join',
  'leave',
  'kill',
  'toggle-cut',
  'restart-member',
  'crash-leader',
  'partition-leader',
  'heal-cluster',
  'heal-members',
];
const MAX_MEMBERS = 7;

/** The fault schedule's state: which members still run, which nodes are down or cut away. */
class Chaos {
  readonly #world: World;
  /** Indexes (into world.members) of members whose process still runs. */
  readonly alive = new Set<number>();
  readonly #down = new Set<string>();
  /** What was done when (virtual ms), for the failure report. */
  readonly trace: string[] = [];
  #nextId: number;

  constructor(world: World) {
    this.#world = world;
    for (let i = 0; i < world.members.length; i++) this.alive.add(i);
    this.#nextId = world.members.length + 1;
  }

  async step(): Promise<void> {
    const { cluster, random } = this.#world;
    // Joins are likelier in a small group, so it keeps members to shuffle.
    const action = this.alive.size < 3 && random.chance(0.5) ? 0 : random.int(ACTIONS.length);
    const someone = this.#pickAlive();
    this.trace.push(
      `${Math.round(cluster.clock.now())}:${ACTIONS[action]}(${someone === null ? '' : this.#world.members[someone]!.id})`,
    );
    if (action === 0 && this.alive.size < MAX_MEMBERS) await this.#join(`m${this.#nextId++}`);
    else if (action === 1 && someone !== null && this.alive.size > 1) {
      this.alive.delete(someone);
      void this.#world.members[someone]!.leave(); // a graceful leave (lost if it is cut off)
    } else if (action === 2 && someone !== null && this.alive.size > 1) this.#kill(someone);
    else if (action === 3 && someone !== null) {
      const link = this.#world.links[someone]!;
      link.cutOff = !link.cutOff;
    } else if (action === 4 && someone !== null) {
      // The process restarts under its old id: a new session, so a new settle.
      const id = this.#world.members[someone]!.id;
      this.#kill(someone);
      await this.#join(id);
    } else if (action === 5) {
      const leader = cluster.leader();
      if (leader !== undefined && this.#down.size === 0) {
        this.#down.add(leader.id);
        cluster.crash(leader.id);
      }
    } else if (action === 6) {
      const leader = cluster.leader();
      if (leader !== undefined && someone !== null) {
        cluster.sim.network.partition(
          [leader.id],
          cluster.sim.ids.filter((id) => id !== leader.id),
        );
        this.#world.links[someone]!.reachable = new Set([leader.id]);
      }
    } else if (action === 7) this.healCluster();
    else this.#healMembers();
  }

  /** Every node back up and connected. */
  healCluster(): void {
    const { cluster } = this.#world;
    cluster.sim.network.heal();
    for (const id of this.#down) cluster.restart(id);
    this.#down.clear();
  }

  /** Every live member back in reach of the whole cluster. */
  healAll(): void {
    this.healCluster();
    this.#healMembers();
  }

  liveMembers(): GroupMember[] {
    return [...this.alive].map((i) => this.#world.members[i]!);
  }

  #healMembers(): void {
    for (const i of this.alive) {
      const link = this.#world.links[i]!;
      link.cutOff = false;
      link.reachable = null;
    }
  }

  /** A process starts and joins; it gives up (and is not counted) when no quorum answers for 2 s. */
  async #join(id: string): Promise<void> {
    try {
      await join(this.#world, id);
      this.alive.add(this.#world.members.length - 1);
    } catch {
      // Any session or join it left behind expires with its lease.
    }
  }

  /** The process dies: no leave reaches the coordinator. */
  #kill(i: number): void {
    this.alive.delete(i);
    this.#world.links[i]!.cutOff = true;
    void this.#world.members[i]!.leave();
  }

  #pickAlive(): number | null {
    if (this.alive.size === 0) return null;
    return [...this.alive][this.#world.random.int(this.alive.size)]!;
  }
}

test('random joins, leaves, crashes, cut-offs, leader crashes and partitions never break the invariants, and the group converges', async () => {
  await forEachSeed(
    async (world) => {
      const { cluster, random } = world;
      // Half the runs have slow member links (answers that arrive late) and lossy cluster links.
      const rough = random.chance(0.5);
      if (rough) {
        world.maxLinkDelayMs = 250;
        cluster.sim.network.setDefaultFaults({ lossRate: 0.02 });
      }
      await startGroup(world, 3);
      const chaos = new Chaos(world);
      try {
        for (let step = 0; step < STEPS; step++) {
          await cluster.sim.runFor(random.int(800));
          await chaos.step();
          world.watch.assertOk();
        }
        chaos.healAll();
        await converges(world, chaos, rough);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n  schedule: ${chaos.trace.join(' ')}`, {
          cause: error,
        });
      }
    },
    CHAOS_SEEDS,
    // Odd seeds snapshot every 16 entries: restarted and lagging members catch up by snapshot.
    (seed) => (seed % 2 === 0 ? {} : { snapshotEveryEntries: 16 }),
  );
});

/** Once the faults stop, the group settles with exactly the members whose processes still run. */
async function converges(world: World, chaos: Chaos, rough: boolean): Promise<void> {
  const { cluster } = world;
  // Lost sessions expire (a new leader restarts their TTL), cut-off members re-join, then one settle;
  // rough runs add slow round trips and a lost settle proposal (retried after 1 s).
  const boundMs =
    SIM_MAX_ELECTION_MS +
    Math.max(TTL_SECONDS * 1000, REJOIN_MS) +
    2 * COMMIT_SLACK_MS +
    SETTLE_MS +
    HEAR_MS +
    (rough ? 4 * 250 + 1_000 : 0);
  const live = chaos.liveMembers();
  const liveIds = live.map((m) => m.id).sort();
  const committedIds = (): string[] | null => {
    const leader = cluster.leader();
    if (leader === undefined) return null;
    const view = cluster.state(leader.id).groups.group(GROUP);
    return (view?.members ?? []).map((m) => m.id).sort();
  };
  const ok = await cluster.sim.runUntil(
    () => String(committedIds()) === String(liveIds) && settledAs(world, live),
    boundMs,
  );
  world.watch.assertOk();
  assert.ok(
    ok,
    `not settled as ${liveIds.join(',')} within ${boundMs} ms: committed ${String(committedIds())}; ${describe(world)}`,
  );
}
