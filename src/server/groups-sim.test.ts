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
import { SkeinError } from '../core/errors.ts';
import { GroupState } from '../membership/commands.ts';
import { SIM_MAX_ELECTION_MS, SimCoordinator } from './groups-sim-harness.ts';
import {
  COMMIT_SLACK_MS,
  crashLeader,
  evictedBy,
  failoverWithin,
  forEachSeed,
  GROUP,
  HEAR_MS,
  HEARTBEAT_MS,
  highestGeneration,
  join,
  MEMBERS,
  REJOIN_MS,
  SETTLE_MS,
  startGroup,
  startSettledGroup,
  TTL_SECONDS,
  untilSettled,
  views,
} from './groups-sim-world.ts';

test('a leader crash while the group is SETTLING: it still settles, a full settle period after the new leader took over at most', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    await startGroup(world);
    const lastChangeMs = cluster.lastChangeAtMs;
    // Sometimes after the old leader's settle is due: it may die with the proposal in flight.
    await cluster.sim.runFor(Math.max(0, lastChangeMs + random.int(SETTLE_MS + 300) - cluster.clock.now()));
    const { crashed, newLeaderAtMs } = await crashLeader(world);
    await cluster.sim.runFor(random.int(1_000));
    cluster.restart(crashed);
    const latestMs = Math.max(lastChangeMs, newLeaderAtMs) + SETTLE_MS + COMMIT_SLACK_MS;
    await untilSettled(world, world.members, latestMs + HEAR_MS - cluster.clock.now());
    const [settle, ...more] = cluster.settles.values();
    assert.equal(more.length, 0, 'settled more than once');
    // Never early (the cluster checks every settle against its change), and not late either.
    assert.ok(settle!.firstAppliedAtMs >= lastChangeMs + SETTLE_MS);
    assert.ok(
      settle!.firstAppliedAtMs <= latestMs,
      `settled ${settle!.firstAppliedAtMs - newLeaderAtMs} ms after the new leader took over`,
    );
  });
});

test('a leader crash while the group is SETTLED keeps its assignment and generation when no member changed', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    const generation = await startSettledGroup(world);
    const before = views(world);
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

test('a member that dies without leaving is evicted, and the others re-settle as 1..n-1 within TTL + settle (+ an election)', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    const generation = await startSettledGroup(world);
    await cluster.sim.runFor(random.int(2_000));
    const victim = random.int(MEMBERS);
    const link = world.links[victim]!;
    const killedAtMs = cluster.clock.now();
    link.cutOff = true; // its last words never arrive: the leave below is a crash to the coordinator
    void world.members[victim]!.leave();
    const lastHeardMs = link.lastAnsweredSentAtMs;
    // Half the runs also lose the leader before the lease runs out: the new one restarts its TTL.
    const takeoverMs = random.chance(0.5) ? await failoverWithin(world, TTL_SECONDS * 1000) : killedAtMs;
    const survivors = world.members.filter((_, i) => i !== victim);
    await untilSettled(world, survivors, evictedBy(killedAtMs, takeoverMs) - cluster.clock.now());
    const resettle = cluster.settles.get(highestGeneration(world))!;
    assert.ok(resettle.generation > generation);
    assert.equal(resettle.assignment.has(world.members[victim]!.id), false);
    assert.ok(
      resettle.firstAppliedAtMs >= lastHeardMs + TTL_SECONDS * 1000 + SETTLE_MS,
      `evicted and settled ${resettle.firstAppliedAtMs - lastHeardMs} ms after its last heartbeat was sent`,
    );
  });
});

/**
 * The fencing property: a member cut off from the coordinator drops its index within one
 * heartbeat interval of the last heartbeat that was answered — strictly before the others can
 * have settled into a generation that hands its index to someone else (the watch checks that no
 * two members ever hold one index at once). Back in reach, it re-joins under a new session.
 */
test('a member cut off from the coordinator sees null within its heartbeat interval, before the others can settle without it', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    const generation = await startSettledGroup(world);
    await cluster.sim.runFor(random.int(2_000));
    const victim = random.int(MEMBERS);
    const member = world.members[victim]!;
    const link = world.links[victim]!;
    link.cutOff = true;
    const cutAtMs = cluster.clock.now();
    const fencedAtMs = link.lastAnsweredSentAtMs + HEARTBEAT_MS;
    assert.ok(fencedAtMs > cutAtMs, 'the member had not been heard from for a whole interval');
    const takeoverMs = random.chance(0.5) ? await failoverWithin(world, TTL_SECONDS * 1000) : cutAtMs;
    await cluster.sim.runFor(Math.max(0, fencedAtMs + 1 - cluster.clock.now()));
    assert.equal(
      member.indexTotal(),
      null,
      `still holds an index ${cluster.clock.now() - fencedAtMs} ms after`,
    );
    const survivors = world.members.filter((_, i) => i !== victim);
    await untilSettled(world, survivors, evictedBy(cutAtMs, takeoverMs) - cluster.clock.now());
    const resettle = cluster.settles.get(highestGeneration(world))!;
    assert.ok(resettle.generation > generation);
    assert.ok(
      resettle.firstAppliedAtMs > fencedAtMs,
      `the others settled ${fencedAtMs - resettle.firstAppliedAtMs} ms before the cut-off member let go`,
    );
    // Back in reach: its old session is gone, so it re-joins and the group settles with it again.
    link.cutOff = false;
    await untilSettled(world, world.members, REJOIN_MS + SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS);
  });
});

/**
 * The stale-leader case: the member keeps talking to the old leader, which still believes it
 * leads (until check-quorum deposes it) and answers from its own, no longer current, state.
 */
test('a member partitioned with the old leader loses its index before the majority side can hand it out', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    const generation = await startSettledGroup(world);
    await cluster.sim.runFor(random.int(2_000));
    const old = cluster.leader()!.id;
    const victim = random.int(MEMBERS);
    const link = world.links[victim]!;
    link.reachable = new Set([old]);
    cluster.sim.network.partition(
      [old],
      cluster.sim.ids.filter((id) => id !== old),
    );
    const cutAtMs = cluster.clock.now();
    const survivors = world.members.filter((_, i) => i !== victim);
    await untilSettled(
      world,
      survivors,
      evictedBy(cutAtMs, cutAtMs + SIM_MAX_ELECTION_MS) - cluster.clock.now(),
    );
    const fencedAtMs = link.lastAnsweredSentAtMs + HEARTBEAT_MS;
    assert.equal(world.members[victim]!.indexTotal(), null);
    const resettle = cluster.settles.get(highestGeneration(world))!;
    assert.ok(resettle.generation > generation);
    assert.ok(
      resettle.firstAppliedAtMs > fencedAtMs,
      `the majority settled ${fencedAtMs - resettle.firstAppliedAtMs} ms before the member let go`,
    );
    cluster.sim.network.heal();
    link.reachable = null;
    await untilSettled(
      world,
      world.members,
      SIM_MAX_ELECTION_MS + REJOIN_MS + SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS,
    );
  });
});

test('a member restarted under its old id is one change: the group re-settles once, keeps every index (sticky), and the old session expiring later changes nothing', async () => {
  await forEachSeed(async (world) => {
    const { cluster, random } = world;
    const generation = await startSettledGroup(world);
    const before = new Map(world.members.map((m) => [m.id, m.indexTotal()!.index]));
    await cluster.sim.runFor(random.int(2_000));
    const victim = random.int(MEMBERS);
    const old = world.members[victim]!;
    world.links[victim]!.cutOff = true; // crashed: its session stays until its lease expires
    void old.leave();
    const restartedAtMs = cluster.clock.now();
    await join(world, old.id);
    const current = world.members.filter((m) => m !== old);
    await untilSettled(
      world,
      current,
      restartedAtMs + 500 + SETTLE_MS + COMMIT_SLACK_MS + HEAR_MS - cluster.clock.now(),
    );
    const resettled = highestGeneration(world);
    assert.ok(resettled > generation);
    for (const m of current) assert.equal(m.indexTotal()!.index, before.get(m.id), `${m.id} moved`);
    // The old session's lease runs out meanwhile; it no longer binds anyone, so nothing changes.
    await cluster.sim.runFor(TTL_SECONDS * 1000 + SETTLE_MS + HEAR_MS);
    assert.equal(highestGeneration(world), resettled, 'the old session expiring re-settled the group');
    await untilSettled(world, current, HEAR_MS);
  });
});

/**
 * A new leader answers heartbeats before it has applied what its predecessor committed. Answering
 * from that state would tell a member whose join committed just before the failover
 * SKEIN_MEMBERSHIP_NOT_MEMBER — false, the join is in the log — and GroupMember would re-join under
 * a new session: a needless change, settled later and under a new generation. The heartbeat
 * therefore catches up (a read barrier) before it says "not a member" (found by this test, seed 4).
 */
test('a heartbeat that reaches a new leader at once still finds the join its predecessor committed', async () => {
  await forEachSeed(async (world) => {
    const { cluster } = world;
    const leader = await cluster.waitForLeader();
    const link = new SimCoordinator(cluster, world.random.fork(), { minDelayMs: 0.1, maxDelayMs: 1 });
    const { id } = await cluster.sim.settle(link.grantLease(TTL_SECONDS));
    await cluster.sim.runFor(200); // the grant is applied everywhere
    const request = { group: GROUP, member: 'x', session: id };
    void link.joinGroupMember({ ...request, settleMs: SETTLE_MS }).catch(() => undefined);
    const applied = await cluster.sim.runUntil(
      () => cluster.state(leader.id).groups.placeOf(GROUP, 'x') !== null,
      1_000,
    );
    assert.ok(applied, 'the join did not apply');
    cluster.crash(leader.id); // the leader applied the join: it is committed, in a majority's log
    await cluster.waitForLeader();
    const answer = await cluster.sim.settle(link.groupHeartbeat(request, HEARTBEAT_MS)).then(
      (status) => status.state,
      (error: unknown) => (error instanceof SkeinError ? error.code : String(error)),
    );
    await cluster.sim.runFor(100);
    const place = cluster.state(cluster.leader()!.id).groups.placeOf(GROUP, 'x');
    assert.equal(place?.session, id, 'the committed join was lost');
    assert.equal(answer, GroupState.Settling, `the new leader answered ${answer} for a member its log holds`);
  }, 20);
});
