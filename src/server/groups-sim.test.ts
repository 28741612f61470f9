/**
 * Groups on a simulated coordination cluster (issue 5): three Raft members with the replicated
 * CoordinationState and the leader's lease and settle clocks, real GroupMembers heartbeating over
 * simulated links, leader crashes, member crashes and partitions — on virtual time, over many
 * seeds. Every run is checked by a GroupWatch (no shared index, one generation in force, stable
 * assignments, agreement with the committed settles). `SKEIN_SEED=<n>` replays one seed;
 * `SKEIN_SIM_SEEDS=<n>` runs more.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Random } from '../core/random.ts';
import { GroupState } from '../membership/commands.ts';
import { joinGroup, type GroupMember, type IndexTotal } from '../membership/member.ts';
import { seedsFromEnv } from '../testing/seeds.ts';
import { GroupsCluster, SIM_MAX_ELECTION_MS, SimCoordinator } from './groups-sim-harness.ts';
import { GroupWatch } from './groups-sim-invariants.ts';

const GROUP = 'workers';
const MEMBERS = 5;
const HEARTBEAT_MS = 1_000;
const TTL_SECONDS = 2;
const SETTLE_MS = 1_500;
/** The member's cadence (¾ of the interval) plus a round trip: how late a member may learn a change. */
const HEAR_MS = (HEARTBEAT_MS * 3) / 4 + 2 * 20 + 20;
/** Apply latency of a proposal (a few network hops and ticks) and the lease clock's 100 ms check. */
const COMMIT_SLACK_MS = 150;

const SEEDS = seedsFromEnv(Number(process.env['SKEIN_SIM_SEEDS'] ?? 12));

interface World {
  readonly cluster: GroupsCluster;
  readonly random: Random;
  readonly watch: GroupWatch;
  readonly members: GroupMember[];
  readonly links: SimCoordinator[];
}

/** Run `scenario` for every seed; a failure names its seed and how to replay it. */
async function forEachSeed(scenario: (world: World) => Promise<void>): Promise<void> {
  for (const seed of SEEDS) {
    const cluster = new GroupsCluster(seed);
    const world: World = {
      cluster,
      random: cluster.sim.random.fork(),
      watch: new GroupWatch(cluster),
      members: [],
      links: [],
    };
    try {
      await scenario(world);
      world.watch.assertOk();
      assert.ok(world.watch.checks > 100, 'the invariants were hardly checked');
    } catch (error) {
      throw new Error(`seed ${seed} failed (replay: SKEIN_SEED=${seed}): ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      world.watch.stop();
      for (const [i, member] of world.members.entries()) {
        world.links[i]!.cutOff = true;
        void member.leave();
      }
      cluster.stopAll();
    }
  }
}

/** Join member `m<i>` (retrying while there is no leader), watched from its first answer. */
async function join(world: World, i: number): Promise<GroupMember> {
  const { cluster } = world;
  const link = new SimCoordinator(cluster, world.random.fork());
  for (let attempt = 0; ; attempt++) {
    try {
      const member = await cluster.sim.settle(
        joinGroup(link, GROUP, {
          clock: cluster.clock,
          memberId: `m${i}`,
          heartbeatIntervalMs: HEARTBEAT_MS,
          sessionTtlSeconds: TTL_SECONDS,
          settleMs: SETTLE_MS,
        }),
        10_000,
      );
      world.members.push(member);
      world.links.push(link);
      world.watch.add(member);
      return member;
    } catch (error) {
      if (attempt >= 10) throw error;
      await cluster.sim.runFor(200);
    }
  }
}

/** Bring the cluster up and join `count` members, staggered by up to 100 ms; returns the last join's time. */
async function startGroup(world: World, count = MEMBERS): Promise<number> {
  await world.cluster.waitForLeader();
  world.watch.start();
  for (let i = 1; i <= count; i++) {
    await join(world, i);
    await world.cluster.sim.runFor(world.random.int(100));
  }
  return world.cluster.clock.now();
}

/** The members that hold an assignment now, and whether they agree on one generation. */
function views(world: World, members = world.members): (IndexTotal | null)[] {
  return members.map((m) => m.indexTotal());
}

/** True when each of `members` holds an assignment of the same generation, numbered 1..n. */
function settledAs(world: World, members: readonly GroupMember[]): boolean {
  const all = views(world, [...members]);
  if (all.some((v) => v === null)) return false;
  const held = all as IndexTotal[];
  const generation = held[0]!.generation;
  const indexes = held.map((v) => v.index).sort((a, b) => a - b);
  return (
    held.every((v) => v.generation === generation && v.total === members.length) &&
    indexes.every((index, k) => index === k + 1)
  );
}

async function untilSettled(world: World, members: readonly GroupMember[], maxMs: number): Promise<number> {
  const from = world.cluster.clock.now();
  const ok = await world.cluster.sim.runUntil(() => settledAs(world, members), maxMs);
  world.watch.assertOk();
  assert.ok(ok, `not settled as ${members.length} within ${maxMs} ms: ${describe(world)}`);
  return world.cluster.clock.now() - from;
}

function describe(world: World): string {
  return world.members
    .map((m) => {
      const it = m.indexTotal();
      return `${m.id}=${it === null ? '-' : `${it.index}/${it.total}@${it.generation}`}`;
    })
    .join(' ');
}

/** Crash the leader, wait for a new one; returns when the new leader took over. */
async function crashLeader(world: World): Promise<{ crashed: string; newLeaderAtMs: number }> {
  const { cluster } = world;
  const crashed = cluster.leader()!.id;
  cluster.crash(crashed);
  const elected = await cluster.sim.runUntil(() => cluster.leader() !== undefined, 5_000);
  assert.ok(elected, 'no new leader after the crash');
  return { crashed, newLeaderAtMs: cluster.clock.now() };
}

function highestGeneration(world: World): number {
  return Math.max(0, ...world.cluster.settles.keys());
}

test('a leader crash while the group is SETTLING: it still settles, a full settle period after the new leader took over at most', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    const lastJoinMs = await startGroup(world);
    await cluster.sim.runFor(random.int(SETTLE_MS - 100));
    assert.equal(cluster.settles.size, 0, 'settled before the settle period');
    const { crashed, newLeaderAtMs } = await crashLeader(world);
    await cluster.sim.runFor(random.int(1_000));
    cluster.restart(crashed);
    await untilSettled(
      world,
      world.members,
      newLeaderAtMs + SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS - cluster.clock.now(),
    );
    const [settle, ...more] = cluster.settles.values();
    assert.equal(more.length, 0, 'settled more than once');
    assert.ok(
      settle!.firstAppliedAtMs >= lastJoinMs + SETTLE_MS,
      `settled ${settle!.firstAppliedAtMs - lastJoinMs} ms after the last join`,
    );
    assert.ok(
      settle!.firstAppliedAtMs <= newLeaderAtMs + SETTLE_MS + COMMIT_SLACK_MS,
      `settled ${settle!.firstAppliedAtMs - newLeaderAtMs} ms after the new leader took over`,
    );
  });
});

test('a leader crash while the group is SETTLED keeps its assignment and generation when no member changed', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    await startGroup(world);
    await untilSettled(world, world.members, SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS + 500);
    const before = views(world);
    const generation = highestGeneration(world);
    for (let failover = 0; failover < 2; failover++) {
      await cluster.sim.runFor(random.int(2_000));
      const { crashed } = await crashLeader(world);
      await cluster.sim.runFor(random.int(1_500));
      cluster.restart(crashed);
    }
    // Long enough for any lease the failovers lost to expire and its group to settle again.
    await cluster.sim.runFor(TTL_SECONDS * 1000 + SIM_MAX_ELECTION_MS + SETTLE_MS + HEAR_MS);
    await untilSettled(world, world.members, HEAR_MS);
    assert.equal(highestGeneration(world), generation, 'the group settled again');
    assert.deepEqual(views(world), before, 'the assignment changed across the failovers');
    const view = cluster.state(cluster.leader()!.id).groups.group(GROUP)!;
    assert.equal(view.state, GroupState.Settled);
    assert.equal(view.generation, generation);
  });
});
