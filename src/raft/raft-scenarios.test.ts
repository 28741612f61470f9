import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../core/random.ts';
import { hasCode } from '../core/errors.ts';
import { RaftSimulation, addressOf } from '../testing/raft-sim.ts';
import { RaftCore } from './raft.ts';
import { EntryKind, type RaftMessage } from './types.ts';
import type { RaftNode } from './node.ts';

/** Cores wired by hand: the test decides which messages are delivered. */
class ManualCluster {
  readonly cores = new Map<string, RaftCore>();
  readonly down = new Set<string>();
  inFlight: RaftMessage[] = [];

  /** Textbook Raft by default (no pre-vote, no check-quorum): there are no ticks here. */
  constructor(ids: readonly string[], options: { maxMsgBytes?: number } = {}) {
    this.#options = options;
    const voters = Object.fromEntries(ids.map((id) => [id, addressOf(id)]));
    for (const [i, id] of ids.entries()) {
      const core = new RaftCore({
        id,
        random: new Random(i + 1),
        preVote: false,
        checkQuorum: false,
        maxMsgBytes: options.maxMsgBytes ?? 1024 * 1024,
      });
      core.bootstrap(voters, 'manual');
      this.cores.set(id, core);
    }
  }

  /** Campaign (repeatedly, as timeouts would) until `id` leads with the messages `allow` lets through. */
  elect(id: string, allow: (m: RaftMessage) => boolean = () => true): void {
    for (let attempt = 0; attempt < 5 && this.core(id).role !== 'leader'; attempt++) {
      this.core(id).campaign();
      this.run(allow);
    }
    assert.equal(this.core(id).role, 'leader', `${id} did not win`);
  }

  readonly #options: { maxMsgBytes?: number } = {};

  /** Crash and restart `id` from its durable state (everything here is persisted instantly). */
  restart(id: string): void {
    const old = this.core(id);
    const entries = [];
    for (let i = 1; i <= old.log.lastIndex; i++) entries.push(old.log.entry(i)!);
    const core = new RaftCore(
      {
        id,
        random: new Random(old.term + 17),
        preVote: false,
        checkQuorum: false,
        maxMsgBytes: this.#options.maxMsgBytes ?? 1024 * 1024,
      },
      {
        hardState: { term: old.term, vote: old.vote, commit: old.log.commitIndex, clusterId: old.clusterId },
        entries,
      },
    );
    this.cores.set(id, core);
    this.down.delete(id);
  }

  core(id: string): RaftCore {
    return this.cores.get(id)!;
  }

  /** Persist and collect outgoing messages of every core (storage is instant here). */
  flush(): void {
    for (const [id, core] of this.cores) {
      if (this.down.has(id)) continue;
      while (core.hasReady()) {
        const ready = core.ready();
        this.inFlight.push(...ready.messagesNow, ...ready.messagesAfterPersist);
        core.advance(ready);
      }
    }
  }

  /** Deliver messages until quiet; `allow` filters which ones get through. */
  run(allow: (m: RaftMessage) => boolean = () => true): void {
    for (let round = 0; round < 100; round++) {
      this.flush();
      if (this.inFlight.length === 0) return;
      const batch = this.inFlight;
      this.inFlight = [];
      for (const m of batch) {
        if (!this.down.has(m.to) && !this.down.has(m.from) && allow(m)) this.core(m.to).step(m);
      }
    }
  }

  propose(id: string, value: string): void {
    const result = this.core(id).propose([
      { kind: EntryKind.Normal, data: { r: value, a: 'set', p: value } },
    ]);
    assert.ok(result.ok);
  }
}

const between =
  (...ids: string[]) =>
  (m: RaftMessage): boolean =>
    ids.includes(m.from) && ids.includes(m.to);

describe('Raft paper §5 claims', () => {
  test('Figure 8: an entry from an earlier term is never committed by counting replicas', () => {
    // One entry per append, so the test controls exactly which entries reach whom.
    const c = new ManualCluster(['s1', 's2', 's3', 's4', 's5'], { maxMsgBytes: 1 });
    // (a) s1 leads term 2 and replicates a new entry to s2 only.
    c.elect('s1');
    c.propose('s1', 'from-term-2');
    c.run(between('s1', 's2'));
    const index = c.core('s1').log.lastIndex;
    const oldTerm = c.core('s1').term;
    // (b) s1 crashes; s5 wins the next term with s3 and s4, appends at the same index, crashes.
    c.down.add('s1');
    c.elect('s5', (m) => between('s5', 's3', 's4')(m) && m.type !== 'append');
    const s5Term = c.core('s5').term;
    c.propose('s5', 'from-s5');
    c.flush();
    c.inFlight = [];
    c.down.add('s5');
    // (c) s1 restarts and leads a later term; its old entry reaches s3, so it sits on a majority
    // (s1, s2, s3) — but s1's entry of its own term does not, so nothing may commit.
    c.restart('s1');
    c.elect('s1', (m) => between('s1', 's2', 's3', 's4')(m) && m.type !== 'append');
    // Heartbeats resume probing; s3 may receive only probes it will reject and the old entry.
    const onlyOld = (m: RaftMessage): boolean =>
      between('s1', 's3')(m) &&
      (m.type !== 'append' ||
        m.entries.every((e) => e.term === oldTerm) ||
        m.prevIndex > c.core('s3').log.lastIndex);
    for (let i = 0; i < 5; i++) {
      c.core('s1').tick();
      c.run(onlyOld);
    }
    assert.equal(c.core('s3').log.term(index), oldTerm, 'the old entry reached s3');
    assert.ok(c.core('s1').log.commitIndex < index, 'an old-term entry was committed by counting replicas');
    // (d) s1 crashes again; s5 can still win (its last term is newer) and overwrites the entry,
    // which is safe precisely because it was never committed.
    c.down.add('s1');
    c.restart('s5');
    c.elect('s5', between('s5', 's2', 's3', 's4'));
    c.propose('s5', 'after');
    c.run(between('s5', 's2', 's3', 's4'));
    for (const id of ['s2', 's3', 's4', 's5']) {
      assert.equal(c.core(id).log.term(index), s5Term, `${id} holds s5's entry at ${index}`);
      assert.ok(c.core(id).log.commitIndex >= index);
    }
  });

  test('Figure 8 under loss: random delivery never commits conflicting entries (300 seeds)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rng = new Random(seed);
      const c = new ManualCluster(['s1', 's2', 's3', 's4', 's5']);
      const committed = new Map<number, string>();
      for (let step = 0; step < 40; step++) {
        const id = rng.pick([...c.cores.keys()]);
        if (rng.chance(0.3)) c.core(id).campaign();
        if (c.core(id).role === 'leader' && rng.chance(0.6)) c.propose(id, `${seed}-${step}`);
        if (rng.chance(0.15)) {
          if (c.down.has(id)) c.down.delete(id);
          else if (c.down.size < 2) c.down.add(id);
        }
        c.run(() => rng.chance(0.6));
        for (const core of c.cores.values()) {
          for (let i = 1; i <= core.log.commitIndex; i++) {
            const e = core.log.entry(i)!;
            const sig = `${e.term}/${JSON.stringify(e.data)}`;
            const seen = committed.get(i);
            if (seen === undefined) committed.set(i, sig);
            else assert.equal(sig, seen, `seed ${seed}: index ${i} committed twice differently`);
          }
        }
      }
    }
  });

  test('a partitioned leader rejoins and its uncommitted entries are discarded', async () => {
    const sim = new RaftSimulation({ seed: 11 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const old = sim.leader()!;
    const others = sim.ids.filter((id) => id !== old.id);
    sim.network.partition([old.id], others);
    const lost = old.enqueue('set', { key: 'k', value: 'lost' });
    lost.catch(() => undefined);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined && sim.leader()!.id !== old.id, 5_000));
    const fresh = sim.leader()!;
    await sim.settle(fresh.enqueue('set', { key: 'k', value: 'kept' }));
    sim.network.heal();
    await sim.runFor(1_000);
    await assert.rejects(sim.settle(lost, 5_000));
    for (const id of sim.ids) {
      const values = sim.appliedBy(id).map((e) => (e.params as { value: string }).value);
      assert.deepEqual(values, ['kept'], `${id} applied ${values.join(',')}`);
    }
  });

  test('a minority cannot commit', async () => {
    const sim = new RaftSimulation({ seed: 12 });
    sim.bootstrap(['a', 'b', 'c', 'd', 'e']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    const minority = [leader.id, sim.ids.find((id) => id !== leader.id)!];
    sim.network.partition(
      minority,
      sim.ids.filter((id) => !minority.includes(id)),
    );
    const before = leader.status().commitIndex;
    const write = leader.enqueue('set', { key: 'k', value: 1 });
    write.catch(() => undefined);
    await sim.runFor(3_000);
    for (const id of minority) assert.equal(sim.node(id)!.status().commitIndex, before);
    await assert.rejects(sim.settle(write, 5_000), (e: unknown) => hasCode(e, 'SKEIN_TIMEOUT'));
    // Check-quorum: the isolated leader stepped down.
    assert.notEqual(leader.status().role, 'leader');
  });

  test('one leader per term over many elections (election safety is checked after every event)', async () => {
    const sim = new RaftSimulation({ seed: 13, faults: { lossRate: 0.2, maxDelayMs: 40 } });
    sim.bootstrap(['a', 'b', 'c', 'd', 'e']);
    await sim.runFor(20_000);
    assert.ok(sim.invariants.checks > 1_000);
  });
});

describe('partial connectivity keeps one stable leader', () => {
  test('one-way partition: a leader that can send but not receive does not cause an election', async () => {
    const sim = new RaftSimulation({ seed: 21 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    const term = leader.status().term;
    // Followers keep hearing heartbeats, so they never campaign; the leader stops hearing back
    // and, with check-quorum, steps down — but no follower starts an election while it hears
    // a leader, and the old leader's own pre-vote is refused.
    for (const id of sim.ids) if (id !== leader.id) sim.network.blockLink(id, leader.id);
    await sim.runFor(5_000);
    const terms = sim.liveNodes().map((n) => n.status().term);
    assert.ok(
      terms.every((t) => t <= term + 1),
      `terms ${terms.join(',')} grew from ${term}`,
    );
  });

  test('the 2020 Cloudflare partial partition keeps one stable leader', async () => {
    // Five voters; one node (e) loses its links to the leader but still reaches the others. With
    // pre-vote and check-quorum, e cannot depose a leader that the majority still hears from.
    const sim = new RaftSimulation({ seed: 22 });
    sim.bootstrap(['a', 'b', 'c', 'd', 'e']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    await sim.runFor(500); // let the election's events fire before counting changes
    const leader = sim.leader()!;
    const cut = sim.ids.find((id) => id !== leader.id)!;
    sim.network.partition([leader.id], [cut]);
    const term = leader.status().term;
    // The cut node loses its leader (expected); everyone else must keep theirs.
    let leaderChanges = 0;
    for (const n of sim.liveNodes()) if (n.id !== cut) n.on('leader', () => leaderChanges++);
    await sim.runFor(10_000);
    assert.equal(sim.leader()!.id, leader.id);
    assert.equal(sim.leader()!.status().term, term);
    assert.equal(leaderChanges, 0);
    await sim.settle(leader.enqueue('set', { key: 'k', value: 1 }));
  });
});

describe('membership changes (§6)', () => {
  async function cluster(seed: number, ids: string[]): Promise<RaftSimulation> {
    const sim = new RaftSimulation({ seed });
    sim.bootstrap(ids);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    return sim;
  }

  test('joint consensus replaces every member at once', async () => {
    const sim = await cluster(31, ['a', 'b', 'c']);
    for (const id of ['x', 'y', 'z']) sim.addNode(id);
    const leader = sim.leader()!;
    await sim.settle(leader.enqueue('set', { key: 'before', value: 1 }));
    await sim.settle(leader.attachNodes({ x: addressOf('x'), y: addressOf('y'), z: addressOf('z') }));
    await sim.settle(sim.leader()!.detachNodes(['a', 'b', 'c']), 10_000);
    assert.ok(await sim.runUntil(() => ['x', 'y', 'z'].includes(sim.leader()?.id ?? ''), 5_000));
    const fresh = sim.leader()!;
    assert.deepEqual(Object.keys(fresh.status().config.voters).sort(), ['x', 'y', 'z']);
    await sim.settle(fresh.enqueue('set', { key: 'after', value: 2 }));
    await sim.runFor(500);
    for (const id of ['x', 'y', 'z']) {
      assert.deepEqual(
        sim.appliedBy(id).map((e) => (e.params as { key: string }).key),
        ['before', 'after'],
      );
    }
  });

  test('a member that lost its commit of a removal in a crash learns it from the removed voter', () => {
    // a removes b. b holds the leave-joint entry and an entry after it, and knows the removal
    // committed; a crashes with only the leave-joint entry durable and its commit index still at
    // the enter-joint entry, so it restarts in the joint configuration and needs b's vote. b
    // refuses (its log is longer) and, removed, never campaigns. The vote's answer carries b's
    // commit index and term there; a's entry matches, so a commits the removal and wins alone.
    const c = new ManualCluster(['a', 'b']);
    c.elect('a');
    const a = c.core('a');
    const enter = a.propose([
      { kind: EntryKind.Config, data: { type: 'enter-joint', voters: { a: addressOf('a') }, learners: {} } },
    ]);
    assert.ok(enter.ok);
    c.run();
    const leaveIndex = a.log.lastIndex;
    assert.equal(a.log.entry(leaveIndex)?.kind, EntryKind.Config, 'the leader appended leave-joint');
    const enterIndex = leaveIndex - 1;
    c.propose('a', 'after-removal');
    c.run();
    assert.deepEqual(Object.keys(c.core('b').config.voters), ['a'], 'b applied its removal');
    assert.ok(c.core('b').log.commitIndex >= leaveIndex);
    // a's crash: the leave-joint entry durable, the write after it and the commit past enter-joint lost.
    const entries = [];
    for (let i = 1; i <= leaveIndex; i++) entries.push(a.log.entry(i)!);
    const restarted = new RaftCore(
      { id: 'a', random: new Random(99), preVote: false, checkQuorum: false },
      {
        hardState: { term: a.term, vote: a.vote, commit: enterIndex, clusterId: a.clusterId },
        entries,
      },
    );
    c.cores.set('a', restarted);
    assert.ok(Object.keys(restarted.config.outgoing).includes('b'), 'a restarts in the joint configuration');
    c.elect('a');
    assert.deepEqual(Object.keys(restarted.config.voters), ['a']);
    c.propose('a', 'again');
    c.run();
    assert.equal(restarted.log.commitIndex, restarted.log.lastIndex);
  });

  test('a learner is promoted only once it has caught up', async () => {
    const sim = new RaftSimulation({ seed: 32, nodeOptions: { maxLearnerLagEntries: 5 } });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    for (let i = 0; i < 50; i++) leader.enqueue('set', { key: 'k', value: i }).catch(() => undefined);
    await sim.runFor(500);
    sim.addNode('l');
    sim.network.partition(['l'], ['a', 'b', 'c']);
    await sim.settle(leader.addLearners({ l: addressOf('l') }));
    await assert.rejects(sim.settle(leader.promoteLearners(['l'])), (e: unknown) =>
      hasCode(e, 'SKEIN_LEARNER_NOT_CAUGHT_UP'),
    );
    // A learner never votes or counts toward a quorum.
    assert.equal(sim.node('l')!.status().role, 'follower');
    sim.network.heal();
    assert.ok(
      await sim.runUntil(
        () => (leader.core.progressOf('l')?.match ?? 0) >= leader.status().commitIndex,
        5_000,
      ),
    );
    await sim.settle(leader.promoteLearners(['l']));
    assert.ok(Object.hasOwn(leader.status().config.voters, 'l'));
  });

  test('a learner cut off from its leader stops claiming one after an election timeout, and says so', async () => {
    const sim = new RaftSimulation({ seed: 33 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    sim.addNode('l');
    await sim.settle(leader.addLearners({ l: addressOf('l') }));
    const learner = sim.node('l')!;
    assert.ok(
      await sim.runUntil(() => learner.leaderId === leader.id, 5_000),
      'the learner heard from its leader',
    );
    const heard: (string | null)[] = [];
    learner.on('leader', (id: string | null) => heard.push(id));
    sim.network.partition(['l'], ['a', 'b', 'c']);
    // Check-quorum's lease and a follower's randomized timeout are both within 2 election timeouts.
    await sim.runFor(2 * 10 * 100 + 500);
    assert.equal(learner.leaderId, null, 'a cut-off learner still claims a leader');
    assert.deepEqual(heard, [null]);
    assert.equal(learner.status().role, 'follower', 'and it never campaigns');
    sim.network.heal();
    assert.ok(await sim.runUntil(() => heard.length === 2, 5_000), 'it learns its leader again');
    assert.deepEqual(heard, [null, leader.id]);
  });

  test("a membership change outlives its leader's deposition when its entry commits under the next leader", async () => {
    const sim = new RaftSimulation({ seed: 34 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    const [keeper, other] = sim.ids.filter((id) => id !== leader.id) as [string, string];
    assert.ok(
      await sim.runUntil(() => leader.core.progressOf(keeper)?.state === 'replicate', 5_000),
      'the leader streams appends to keeper',
    );
    // The change reaches `keeper` but no acknowledgement gets back: the leader cannot commit it,
    // steps down by check-quorum, and `keeper` (whose log is the longest) is elected.
    sim.network.partition([leader.id], [other]);
    sim.network.blockLink(keeper, leader.id);
    sim.addNode('l');
    const change = leader.addLearners({ l: addressOf('l') });
    change.catch(() => undefined);
    assert.ok(
      await sim.runUntil(() => sim.node(keeper)!.status().role === 'leader', 1_500),
      `${keeper} was elected`,
    );
    sim.network.heal();
    await sim.settle(change);
    assert.ok(Object.hasOwn(sim.node(keeper)!.status().config.learners, 'l'));
  });

  test('a membership change replaced by the next leader rejects with SKEIN_NOT_LEADER: it never took effect', async () => {
    const sim = new RaftSimulation({ seed: 35 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    const others = sim.ids.filter((id) => id !== leader.id);
    sim.network.isolate(leader.id);
    sim.addNode('l');
    const change = leader.addLearners({ l: addressOf('l') });
    change.catch(() => undefined);
    assert.ok(
      await sim.runUntil(() => others.some((id) => sim.node(id)!.status().role === 'leader'), 1_500),
      'the others elected a leader',
    );
    sim.network.restore(leader.id);
    // The next leader commits a write at the change's index, which settles that it never will.
    const next = sim.leader()!;
    await sim.settle(next.enqueue('set', { key: 'k', value: 1 }));
    await assert.rejects(sim.settle(change), (e: unknown) => hasCode(e, 'SKEIN_NOT_LEADER'));
    for (const id of sim.ids) assert.ok(!Object.hasOwn(sim.node(id)!.status().config.learners, 'l'));
  });

  test('attachNodes adds a node as a learner first, then promotes it', async () => {
    const sim = await cluster(33, ['a', 'b', 'c']);
    sim.addNode('d');
    const configs: string[] = [];
    sim.leader()!.on('configuration', (c) => {
      configs.push(`${Object.keys(c.voters).sort().join('')}|${Object.keys(c.learners).join('')}`);
    });
    await sim.settle(sim.leader()!.attachNodes({ d: addressOf('d') }));
    assert.ok(configs.includes('abc|d'), configs.join(' '));
    assert.equal(configs.at(-1), 'abcd|');
  });

  test('removing the leader: it steps down and the others elect a new one', async () => {
    const sim = await cluster(34, ['a', 'b', 'c']);
    const leader = sim.leader()!;
    await sim.settle(leader.detachNodes([leader.id]));
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined && sim.leader()!.id !== leader.id, 5_000));
    assert.notEqual(leader.status().role, 'leader');
    const fresh = sim.leader()!;
    assert.deepEqual(Object.keys(fresh.status().config.voters).length, 2);
    await sim.settle(fresh.enqueue('set', { key: 'k', value: 1 }));
  });

  test('going from 2 members to 1', async () => {
    const sim = await cluster(35, ['a', 'b']);
    const leader = sim.leader()!;
    const other = sim.ids.find((id) => id !== leader.id)!;
    await sim.settle(leader.detachNodes([other]));
    assert.deepEqual(Object.keys(leader.status().config.voters), [leader.id]);
    sim.crash(other);
    await sim.settle(leader.enqueue('set', { key: 'k', value: 1 }));
  });

  test('one membership change at a time', async () => {
    const sim = await cluster(36, ['a', 'b', 'c']);
    sim.addNode('d');
    sim.addNode('e');
    const leader = sim.leader()!;
    const first = leader.addLearners({ d: addressOf('d') });
    const second = leader.addLearners({ e: addressOf('e') });
    await sim.settle(first);
    await assert.rejects(sim.settle(second), (e: unknown) => hasCode(e, 'SKEIN_CONFIG_CHANGE_IN_PROGRESS'));
  });
});

describe('solo and reset', () => {
  test('solo on a minority survivor keeps committed data, then the cluster grows back', async () => {
    const sim = new RaftSimulation({ seed: 41 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    await sim.settle(sim.leader()!.enqueue('set', { key: 'k', value: 'committed' }));
    await sim.runFor(200);
    const survivor = sim.node('a')!;
    sim.crash('b');
    sim.crash('c');
    await sim.runFor(3_000);
    const oldCluster = survivor.status().clusterId;
    await sim.settle(survivor.solo());
    const s = survivor.status();
    assert.equal(s.role, 'leader');
    assert.notEqual(s.clusterId, oldCluster);
    assert.deepEqual(Object.keys(s.config.voters), ['a']);
    assert.deepEqual(s.config.removed, ['b', 'c']);
    await sim.settle(survivor.enqueue('set', { key: 'k2', value: 'after-solo' }));
    // Grow back with new members (old ids are remembered as removed and refused).
    await assert.rejects(sim.settle(survivor.attachNodes({ b: addressOf('b') })), (e: unknown) =>
      hasCode(e, 'SKEIN_NODE_ID_REUSED'),
    );
    sim.addNode('d');
    sim.addNode('e');
    await sim.settle(survivor.attachNodes({ d: addressOf('d'), e: addressOf('e') }));
    for (const id of ['d', 'e']) {
      assert.deepEqual(
        sim.appliedBy(id).map((e) => (e.params as { value: string }).value),
        ['committed', 'after-solo'],
      );
    }
    // The old members, restarted, cannot disturb the new cluster (different cluster id).
    sim.restart('b');
    sim.restart('c');
    await sim.runFor(3_000);
    assert.equal(sim.leader(survivor.status().clusterId)?.id, 'a');
  });

  test('reset: a detached node wipes its history and joins another cluster', async () => {
    const sim = new RaftSimulation({ seed: 42 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    await sim.settle(leader.enqueue('set', { key: 'k', value: 1 }));
    const leaving = sim.ids.find((id) => id !== leader.id)!;
    const node = sim.node(leaving)!;
    await assert.rejects(sim.settle(node.reset()), (e: unknown) => hasCode(e, 'SKEIN_NOT_DETACHED'));
    await sim.settle(node.detach());
    await sim.runFor(500);
    await sim.reset(leaving);
    const s = node.status();
    assert.equal(s.term, 0);
    assert.equal(s.lastIndex, 0);
    assert.equal(s.clusterId, '');
    // A second, separate cluster adopts it.
    sim.addNode('x');
    const x = sim.node('x')!;
    await sim.settle(x.solo());
    await sim.settle(x.attachNodes({ [leaving]: addressOf(leaving) }));
    await sim.settle(x.enqueue('set', { key: 'other', value: 2 }));
    await sim.runFor(200);
    assert.equal(node.status().clusterId, x.status().clusterId);
    assert.deepEqual(
      sim.appliedBy(leaving).map((e) => (e.params as { key: string }).key),
      ['other'],
    );
  });

  test('detach on a sole voter leaves the cluster; solo, detach, detach resets as in consensual', async () => {
    const sim = new RaftSimulation({ seed: 43 });
    const node = sim.addNode('a');
    await sim.settle(node.solo());
    await sim.settle(node.enqueue('set', { key: 'k', value: 1 }));
    await sim.settle(node.detach());
    assert.deepEqual(node.status().config.voters, {});
    await sim.reset('a');
    assert.equal(node.status().lastIndex, 0);
  });
});

describe('consensual behaviours', () => {
  test('enqueue errors: unknown action, not a member, no leader', async () => {
    const sim = new RaftSimulation({ seed: 51 });
    const lonely = sim.addNode('a');
    await assert.rejects(sim.settle(lonely.enqueue('set', { key: 'k', value: 1 })), (e: unknown) =>
      hasCode(e, 'SKEIN_NOT_MEMBER'),
    );
    await assert.rejects(sim.settle(lonely.enqueue('nope', {})), (e: unknown) =>
      hasCode(e, 'SKEIN_UNKNOWN_ACTION'),
    );
    const sim2 = new RaftSimulation({ seed: 52 });
    sim2.bootstrap(['a', 'b', 'c']);
    sim2.network.partition(['a'], ['b', 'c']);
    await assert.rejects(sim2.settle(sim2.node('a')!.enqueue('set', { key: 'k', value: 1 })), (e: unknown) =>
      hasCode(e, 'SKEIN_NO_LEADER'),
    );
  });

  test('a proposal fenced to a leader term is refused, not forwarded, once that term is over', async () => {
    const sim = new RaftSimulation({ seed: 53 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    const term = leader.leadingTerm!;
    assert.equal(term, leader.core.term);
    await sim.settle(leader.enqueue('set', { key: 'k', value: 'fenced ok' }, { leaderTerm: term }));
    const follower = sim.node(sim.ids.find((id) => id !== leader.id)!)!;
    assert.equal(follower.leadingTerm, null);
    await assert.rejects(
      sim.settle(follower.enqueue('set', { key: 'k', value: 'forwarded' }, { leaderTerm: term })),
      (e: unknown) => hasCode(e, 'SKEIN_NOT_LEADER'),
    );
    await assert.rejects(
      sim.settle(leader.enqueue('set', { key: 'k', value: 'stale' }, { leaderTerm: term - 1 })),
      (e: unknown) => hasCode(e, 'SKEIN_NOT_LEADER'),
    );
    // Unfenced commands in the same batch still go through.
    const fenced = leader.enqueue('set', { key: 'k', value: 'stale' }, { leaderTerm: term + 1 });
    fenced.catch(() => undefined);
    await sim.settle(leader.enqueue('set', { key: 'k', value: 'unfenced' }));
    await assert.rejects(fenced, (e: unknown) => hasCode(e, 'SKEIN_NOT_LEADER'));
    await sim.runFor(200);
    const values = sim.appliedBy(leader.id).map((c) => (c.params as { value: string }).value);
    assert.deepEqual(values.slice(-2), ['fenced ok', 'unfenced']);
  });

  test('a throwing processor rejects its caller and never stops the node or splits replicas', async () => {
    const sim = new RaftSimulation({
      seed: 53,
      processors: () => ({
        boom: () => {
          throw new Error('processor failure');
        },
        ok: (p) => p,
      }),
    });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    await assert.rejects(sim.settle(leader.enqueue('boom', null)), (e: unknown) =>
      hasCode(e, 'SKEIN_PROCESSOR_FAILED'),
    );
    assert.equal(await sim.settle(leader.enqueue('ok', 7)), 7);
    await sim.runFor(200);
    for (const id of sim.ids) assert.equal(sim.appliedBy(id).length, 2);
  });

  test('a leader crash brings a new leader and commits continue', async () => {
    const sim = new RaftSimulation({ seed: 54 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const old = sim.leader()!;
    await sim.settle(old.enqueue('set', { key: 'k', value: 1 }));
    sim.crash(old.id);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const fresh: RaftNode = sim.leader()!;
    assert.notEqual(fresh.id, old.id);
    await sim.settle(fresh.enqueue('set', { key: 'k', value: 2 }));
    sim.restart(old.id);
    await sim.runFor(1_000);
    assert.equal(sim.appliedBy(old.id).length, 2);
  });

  test('leadership transfer hands over to the target', async () => {
    const sim = new RaftSimulation({ seed: 55 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    const target = sim.ids.find((id) => id !== leader.id)!;
    await sim.settle(leader.transferLeadership(target));
    assert.ok(await sim.runUntil(() => sim.leader()?.id === target, 2_000));
    // The transfer can be requested on a follower too (forwarded to the leader).
    const back = sim.node(leader.id)!;
    await sim.settle(back.transferLeadership(leader.id));
    assert.ok(await sim.runUntil(() => sim.leader()?.id === leader.id, 2_000));
  });

  test('reads are linearizable on followers and fail cleanly without a leader', async () => {
    const sim = new RaftSimulation({ seed: 56 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    const state = new Map<string, number>();
    leader.on('applied', (e) => state.set('last', (e.params as { value: number }).value));
    await sim.settle(leader.enqueue('set', { key: 'k', value: 42 }));
    const follower = sim.liveNodes().find((n) => n !== leader)!;
    const seen = await sim.settle(follower.read(() => follower.status().appliedIndex));
    assert.ok(seen >= leader.status().commitIndex - 1);
  });
});

describe('regressions', () => {
  test('lease reads never return stale data from a partitioned leader (50 seeds)', async () => {
    let stale = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const sim = new RaftSimulation({ seed, nodeOptions: { readMode: 'lease' } });
      sim.bootstrap(['a', 'b', 'c']);
      assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
      const old = sim.leader()!;
      let value = 0;
      old.on('applied', (c) => (value = (c.params as { value: number }).value));
      await sim.settle(old.enqueue('set', { key: 'k', value: 1 }));
      await sim.runFor(50);
      sim.network.partition(
        [old.id],
        sim.ids.filter((id) => id !== old.id),
      );
      // Read on the old leader at every step while the majority elects and commits a new value.
      const progress = { newCommitted: false };
      const others = sim.liveNodes().filter((n) => n !== old);
      for (let t = 0; t < 60; t++) {
        const fresh = sim.leader();
        if (!progress.newCommitted && fresh !== undefined && fresh !== old) {
          await sim.settle(fresh.enqueue('set', { key: 'k', value: 2 })).then(
            () => (progress.newCommitted = true),
            () => undefined,
          );
        }
        const read = old.read(() => value);
        read.catch(() => undefined);
        const seen = await sim.settle(read).catch(() => null);
        if (progress.newCommitted && seen === 1) stale++;
        await sim.runFor(20);
      }
      assert.ok(progress.newCommitted || others.length === 0);
    }
    assert.equal(stale, 0, `${stale} stale lease reads`);
  });

  test('a duplicated forwarded proposal is applied once', async () => {
    const sim = new RaftSimulation({ seed: 61, faults: { duplicateRate: 0.5 } });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    await sim.runFor(200); // every follower knows the leader
    const follower = sim.liveNodes().find((n) => n !== sim.leader())!;
    for (let i = 0; i < 20; i++) await sim.settle(follower.enqueue('set', { key: 'k', value: i }));
    await sim.runFor(500);
    for (const id of sim.ids) {
      assert.deepEqual(
        sim.appliedBy(id).map((c) => (c.params as { value: number }).value),
        Array.from({ length: 20 }, (_, i) => i),
      );
    }
  });

  test('an oversized command is refused at enqueue with a clear code', async () => {
    const sim = new RaftSimulation({ seed: 62, nodeOptions: { maxCommandBytes: 1024 } });
    sim.bootstrap(['a']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    await assert.rejects(
      sim.settle(sim.leader()!.enqueue('set', { key: 'k', value: 'x'.repeat(2000) })),
      (e: unknown) => hasCode(e, 'SKEIN_COMMAND_TOO_LARGE'),
    );
  });

  test('a removed follower learns it is out, stops campaigning, and can be reset; its id is not reused', async () => {
    const sim = new RaftSimulation({ seed: 63 });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    const leader = sim.leader()!;
    const removed = sim.ids.find((id) => id !== leader.id)!;
    await sim.settle(leader.detachNodes([removed]));
    const node = sim.node(removed)!;
    assert.ok(
      await sim.runUntil(
        () =>
          !Object.hasOwn(node.status().config.outgoing, removed) &&
          !Object.hasOwn(node.status().config.voters, removed),
        3_000,
      ),
      'the removed node learned the final configuration',
    );
    await sim.runFor(3_000);
    assert.equal(node.status().role, 'follower');
    await sim.reset(removed);
    await assert.rejects(sim.settle(leader.attachNodes({ [removed]: addressOf(removed) })), (e: unknown) =>
      hasCode(e, 'SKEIN_NODE_ID_REUSED'),
    );
  });
});
