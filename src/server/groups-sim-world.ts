/**
 * The world of a groups simulation: a {@link GroupsCluster}, real GroupMembers joined through
 * {@link SimCoordinator}s, a {@link GroupWatch} over them, and the steps scenarios share (join,
 * wait until settled, crash the leader), with the timing bounds they assert.
 */
import assert from 'node:assert/strict';
import type { Random } from '../core/random.ts';
import { joinGroup, type GroupMember, type IndexTotal } from '../membership/member.ts';
import { seedsFromEnv } from '../testing/seeds.ts';
import { GroupsCluster, SimCoordinator, type GroupsClusterOptions } from './groups-sim-harness.ts';
import { GroupWatch } from './groups-sim-invariants.ts';

export const GROUP = 'workers';
export const MEMBERS = 5;
export const HEARTBEAT_MS = 1_000;
export const TTL_SECONDS = 2;
export const SETTLE_MS = 1_500;
/** The member's cadence (¾ of the interval) plus a round trip: how late a member may learn a change. */
export const HEAR_MS = (HEARTBEAT_MS * 3) / 4 + 2 * 20 + 20;
/** Apply latency of a proposal (a few network hops and ticks) and the lease clock's 100 ms check. */
export const COMMIT_SLACK_MS = 150;
/**
 * How long a member back in reach takes to be in the group again: its heartbeat sent while cut
 * off times out (one interval), the next one finds its session gone, and it re-joins.
 */
export const REJOIN_MS = HEARTBEAT_MS + HEAR_MS + 2 * COMMIT_SLACK_MS;

export interface World {
  readonly cluster: GroupsCluster;
  readonly random: Random;
  readonly watch: GroupWatch;
  readonly members: GroupMember[];
  readonly links: SimCoordinator[];
  /** Longest one-way delay between a member and the cluster, for members joined from now on. */
  maxLinkDelayMs: number;
}

/**
 * Run `scenario` for `count` seeds (`SKEIN_SIM_SEEDS` overrides it, `SKEIN_SEED` replays one); a
 * failure names its seed and how to replay it.
 */
export async function forEachSeed(
  scenario: (world: World) => Promise<void>,
  count = 12,
  clusterOptions: (seed: number) => GroupsClusterOptions = () => ({}),
): Promise<void> {
  for (const seed of seedsFromEnv(Number(process.env['SKEIN_SIM_SEEDS'] ?? count))) {
    const cluster = new GroupsCluster(seed, clusterOptions(seed));
    const world: World = {
      cluster,
      random: cluster.sim.random.fork(),
      watch: new GroupWatch(cluster),
      members: [],
      links: [],
      maxLinkDelayMs: 20,
    };
    try {
      await scenario(world);
      world.watch.assertOk();
      if (world.members.length > 0) assert.ok(world.watch.checks > 100, 'the invariants were hardly checked');
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
export async function join(world: World, i: number | string): Promise<GroupMember> {
  const { cluster } = world;
  const link = new SimCoordinator(cluster, world.random.fork(), { maxDelayMs: world.maxLinkDelayMs });
  for (let attempt = 0; ; attempt++) {
    try {
      const member = await cluster.sim.settle(
        joinGroup(link, GROUP, {
          clock: cluster.clock,
          memberId: typeof i === 'string' ? i : `m${i}`,
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
export async function startGroup(world: World, count = MEMBERS): Promise<number> {
  await world.cluster.waitForLeader();
  world.watch.start();
  for (let i = 1; i <= count; i++) {
    await join(world, i);
    await world.cluster.sim.runFor(world.random.int(100));
  }
  return world.cluster.clock.now();
}

/** {@link startGroup}, then wait until every member holds 1..n of one generation; returns it. */
export async function startSettledGroup(world: World): Promise<number> {
  await startGroup(world);
  await untilSettled(world, world.members, SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS + 500);
  return highestGeneration(world);
}

/** What each member holds now. */
export function views(world: World, members = world.members): (IndexTotal | null)[] {
  return members.map((m) => m.indexTotal());
}

/** True when each of `members` holds an assignment of the same generation, numbered 1..n. */
export function settledAs(world: World, members: readonly GroupMember[]): boolean {
  const all = views(world, [...members]);
  if (all.some((v) => v === null)) return false;
  const held = all as IndexTotal[];
  const generation = held[0]?.generation;
  const indexes = held.map((v) => v.index).sort((a, b) => a - b);
  return (
    held.every((v) => v.generation === generation && v.total === members.length) &&
    indexes.every((index, k) => index === k + 1)
  );
}

export async function untilSettled(
  world: World,
  members: readonly GroupMember[],
  maxMs: number,
): Promise<number> {
  const from = world.cluster.clock.now();
  const ok = await world.cluster.sim.runUntil(() => settledAs(world, members), maxMs);
  world.watch.assertOk();
  assert.ok(ok, `not settled as ${members.length} within ${maxMs} ms: ${describe(world)}`);
  return world.cluster.clock.now() - from;
}

export function describe(world: World): string {
  return world.members
    .map((m) => {
      const it = m.indexTotal();
      return `${m.id}=${it === null ? '-' : `${it.index}/${it.total}@${it.generation}`}`;
    })
    .join(' ');
}

/** Crash the leader, wait for a new one; returns when the new leader took over. */
export async function crashLeader(world: World): Promise<{ crashed: string; newLeaderAtMs: number }> {
  const { cluster } = world;
  const crashed = cluster.leader()!.id;
  cluster.crash(crashed);
  const elected = await cluster.sim.runUntil(() => cluster.leader() !== undefined, 5_000);
  assert.ok(elected, 'no new leader after the crash');
  return { crashed, newLeaderAtMs: cluster.clock.now() };
}

export function highestGeneration(world: World): number {
  return Math.max(0, ...world.cluster.settles.keys());
}

/** Fail over to a new leader at a random moment within `withinMs`; returns when it took over. */
export async function failoverWithin(world: World, withinMs: number): Promise<number> {
  const { cluster, random } = world;
  await cluster.sim.runFor(random.int(withinMs));
  const { crashed, newLeaderAtMs } = await crashLeader(world);
  await cluster.sim.runFor(random.int(1_000));
  cluster.restart(crashed);
  return newLeaderAtMs;
}

/** Latest time the others must have settled without a member that went silent at `silentAtMs`. */
export function evictedBy(silentAtMs: number, takeoverMs: number): number {
  const expiredMs = Math.max(silentAtMs, takeoverMs) + TTL_SECONDS * 1000 + COMMIT_SLACK_MS;
  return expiredMs + SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS;
}
