import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../core/clock.ts';
import { MemoryStorage } from '../storage/memory-storage.ts';
import type {
  PersistBatch,
  RaftStorage,
  RecoveredState,
  SnapshotMeta,
  SnapshotReader,
} from '../storage/types.ts';
import { RaftSimulation } from '../testing/raft-sim.ts';
import type { RaftMessage } from './types.ts';

/**
 * Storage whose writes become durable only after a delay on the virtual clock, and which records
 * exactly what is durable at every instant — the spy for the durability contract.
 */
class SlowSpyStorage implements RaftStorage {
  durableIndex = 0;
  durableVote: { term: number; vote: string | null } = { term: 0, vote: null };
  readonly #inner = new MemoryStorage();
  readonly #clock: Clock;
  /** How long each write takes to become durable (a test may slow the disk down midway). */
  delayMs: number;

  constructor(clock: Clock, delayMs: number) {
    this.#clock = clock;
    this.delayMs = delayMs;
  }

  load(): RecoveredState {
    return this.#inner.load();
  }

  persist(batch: PersistBatch): Promise<void> {
    // A commit-index-only batch needs no fsync (FileStorage writes it without one): no delay.
    const delayMs = batch.mustSync === false ? 0 : this.delayMs;
    return new Promise((resolve) => {
      this.#clock.setTimeout(() => {
        this.#inner.persist(batch);
        this.durableIndex = this.#inner.entries.at(-1)?.index ?? this.durableIndex;
        if (batch.truncateFrom !== null)
          this.durableIndex = Math.min(this.durableIndex, batch.truncateFrom - 1);
        this.durableVote = { term: this.#inner.hardState.term, vote: this.#inner.hardState.vote };
        resolve();
      }, delayMs);
    });
  }

  saveSnapshot(meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    return this.#inner.saveSnapshot(meta, chunks);
  }

  openSnapshot(): Promise<SnapshotReader | null> {
    return this.#inner.openSnapshot();
  }

  compact(index: number): void {
    this.#inner.compact(index);
  }

  close(): void {
    this.#inner.close();
  }
}

test('nothing is acknowledged before it is durable (append acks, votes, enqueue results)', async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const storages = new Map<string, SlowSpyStorage>();
    const sim: RaftSimulation = new RaftSimulation({
      seed,
      faults: { maxDelayMs: 5, lossRate: 0.05 },
      storage: (id) => {
        const s = new SlowSpyStorage(sim.clock, 1 + (seed % 4));
        storages.set(id, s);
        return s;
      },
    });
    let checked = 0;
    sim.network.onSend = (from, _to, message) => {
      const m = message as RaftMessage;
      const disk = storages.get(from)!;
      if (m.type === 'append-response' && m.success) {
        assert.ok(
          m.index <= disk.durableIndex,
          `${from} acked ${m.index} with only ${disk.durableIndex} durable`,
        );
        checked++;
      }
      if (m.type === 'vote-response' && m.granted) {
        assert.equal(
          disk.durableVote.term,
          m.term,
          `${from} granted a vote in term ${m.term} before persisting it`,
        );
        assert.equal(disk.durableVote.vote, m.to);
        checked++;
      }
    };
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
    for (let i = 0; i < 30; i++) {
      const live = sim.liveNodes();
      const node = live[i % live.length]!;
      const done = node.enqueue('set', { key: 'k', value: i }).then(
        () => {
          // Acknowledged: the entry is durable on a majority.
          const applied = sim.appliedBy(node.id).at(-1)!;
          const durable = [...storages.values()].filter((s) => s.durableIndex >= applied.index).length;
          assert.ok(durable >= 2, `value ${i} acknowledged with ${durable} durable copies`);
        },
        () => undefined,
      );
      await sim.settle(done);
      if (i === 15) sim.crash(sim.leader()!.id);
    }
    assert.ok(checked > 20, `only ${checked} acknowledgements checked`);
  }
});

test('a sole voter leads only once its new term and self-vote are durable', async () => {
  let storage: SlowSpyStorage | undefined;
  const sim: RaftSimulation = new RaftSimulation({
    seed: 7,
    storage: () => (storage = new SlowSpyStorage(sim.clock, 20)),
  });
  sim.bootstrap(['solo']);
  const disk = storage!;
  let checked = 0;
  for (let step = 0; step < 2_000 && checked < 3; step++) {
    await sim.runFor(1);
    const leader = sim.leader();
    if (leader === undefined) continue;
    const { term } = leader.status();
    assert.deepEqual(
      disk.durableVote,
      { term, vote: 'solo' },
      `solo leads term ${term} while only term ${disk.durableVote.term} is durable`,
    );
    checked++;
  }
  assert.equal(checked, 3, 'solo became leader');
  sim.crash('solo');
});

test('a follower whose disk writes outlast the election timeout does not depose the leader', async () => {
  // The leader's quorum is itself and one follower (the third is down); that follower's every
  // fdatasync takes 3 election timeouts. Its appends are acknowledged late, as they must be, but it
  // answers heartbeats at once: check-quorum keeps the leader, which commits as the disk allows
  // instead of stepping down and costing an election per slow write.
  const storages = new Map<string, SlowSpyStorage>();
  const sim: RaftSimulation = new RaftSimulation({
    seed: 11,
    storage: (id) => {
      const s = new SlowSpyStorage(sim.clock, 1);
      storages.set(id, s);
      return s;
    },
  });
  sim.bootstrap(['a', 'b', 'c']);
  assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000));
  const leader = sim.leader()!;
  const { term } = leader.status();
  const [slow, down] = ['a', 'b', 'c'].filter((id) => id !== leader.id);
  sim.crash(down!);
  const electionTimeoutMs = 10 * 10; // the simulator's 10 ms tick × 10 election ticks
  storages.get(slow!)!.delayMs = 3 * electionTimeoutMs;
  for (let i = 0; i < 10; i++) {
    await sim.settle(leader.enqueue('set', { key: 'k', value: i }), 5_000);
    assert.equal(sim.leader()?.id, leader.id, `the leader changed after write ${i}`);
    assert.equal(leader.status().term, term, `a new term began after write ${i}`);
  }
  await sim.runFor(10 * electionTimeoutMs);
  assert.equal(leader.status().term, term);
  assert.equal(sim.leader()?.id, leader.id);
});

test('a commit waits for one disk write, not two: the leader writes its entries while its followers write theirs', async () => {
  // The durable counterpart of bench:raft's p50 target (in-memory p50 + one fdatasync), on the
  // virtual clock where disks do not share a device: the leader sends its appends before its own
  // write starts (Raft thesis §10.2.1), so a commit costs the in-memory path plus ONE write, not
  // the leader's write followed by a follower's.
  const diskMs = 20;
  const commitLatenciesMs = async (durable: boolean): Promise<number[]> => {
    const sim: RaftSimulation = new RaftSimulation({
      seed: 11,
      faults: { minDelayMs: 1, maxDelayMs: 1 },
      ...(durable ? { storage: () => new SlowSpyStorage(sim.clock, diskMs) } : {}),
    });
    sim.bootstrap(['a', 'b', 'c']);
    assert.ok(await sim.runUntil(() => sim.leader() !== undefined, 5_000), 'a leader');
    const leader = sim.leader()!;
    await sim.settle(leader.enqueue('set', { key: 'k', value: -1 })); // after the leader's first commit
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = sim.clock.now();
      await sim.settle(leader.enqueue('set', { key: 'k', value: i }));
      latencies.push(sim.clock.now() - started);
    }
    return latencies;
  };
  const inMemory = Math.max(...(await commitLatenciesMs(false)));
  const durable = await commitLatenciesMs(true);
  assert.equal(inMemory, 2, 'an in-memory commit is one round trip over 1 ms links');
  for (const ms of durable) {
    assert.ok(
      ms <= inMemory + diskMs,
      `a durable commit took ${ms} ms: more than ${inMemory} + one ${diskMs} ms write`,
    );
  }
});
