import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Clock, TimerHandle } from '../core/clock.ts';
import { silentLogger } from '../core/log.ts';
import { KvStore } from '../kv/index.ts';
import type { LeaseGrantResponse } from '../kv/types.ts';
import type { RaftNode } from '../raft/node.ts';
import { seedsFromEnv } from '../testing/seeds.ts';
import { RaftSimulation } from '../testing/raft-sim.ts';
import { LeaseExpiry } from './lease-expiry.ts';

const TTL_SECONDS = 2;
const TICK_MS = 10;
const ELECTION_TICKS = 10;
/** Longest a leaderless gap can last here: a randomized election timeout is below 2 × 10 ticks. */
const MAX_ELECTION_MS = 2 * ELECTION_TICKS * TICK_MS * 3;

/** Three simulated members, each with a KvStore and the leader-side lease clock, on virtual time. */
function cluster(
  seed: number,
  options: { checkQuorum?: boolean; leaseClock?: (id: string, simClock: Clock) => Clock } = {},
): {
  sim: RaftSimulation;
  store: (id: string) => KvStore;
  expiry: (id: string) => LeaseExpiry | undefined;
  crash: (id: string) => void;
  restart: (id: string) => void;
  leader: () => RaftNode | undefined;
  stopAll: () => void;
} {
  const stores = new Map<string, KvStore>();
  const clocks = new Map<string, LeaseExpiry>();
  const sim = new RaftSimulation({
    seed,
    faults: { minDelayMs: 1, maxDelayMs: 5 },
    nodeOptions: {
      tickIntervalMs: TICK_MS,
      electionTicks: ELECTION_TICKS,
      ...(options.checkQuorum === undefined ? {} : { checkQuorum: options.checkQuorum }),
    },
    machine: (id) => {
      const store = new KvStore();
      stores.set(id, store);
      return { processors: store.processors(), stateMachine: store, state: store };
    },
  });
  const attach = (id: string): void => {
    const node = sim.node(id);
    if (node === undefined) return;
    const clock = options.leaseClock?.(id, sim.clock) ?? sim.clock;
    clocks.set(id, new LeaseExpiry({ node, store: stores.get(id)!, clock, logger: silentLogger }));
  };
  sim.bootstrap(['a', 'b', 'c']);
  for (const id of sim.ids) attach(id);
  return {
    sim,
    store: (id) => stores.get(id)!,
    expiry: (id) => clocks.get(id),
    crash: (id) => {
      clocks.get(id)?.stop();
      clocks.delete(id);
      sim.crash(id);
    },
    restart: (id) => {
      sim.restart(id);
      attach(id);
    },
    leader: () => sim.leader(),
    // A failed run must not leave nodes behind that keep the process alive.
    stopAll: () => {
      for (const id of sim.ids) if (!sim.isDown(id)) sim.crash(id);
      for (const expiry of clocks.values()) expiry.stop();
    },
  };
}

/** Renew on whichever member leads now; false when there is no leader to renew with. */
async function keepAlive(c: ReturnType<typeof cluster>, id: number): Promise<boolean> {
  const leader = c.leader();
  const expiry = leader === undefined ? undefined : c.expiry(leader.id);
  if (expiry === undefined) return false;
  const renewed = await c.sim.settle(expiry.keepAlive(id).catch(() => null));
  return renewed !== null && renewed !== undefined;
}

async function grant(c: ReturnType<typeof cluster>): Promise<number> {
  await c.sim.runUntil(() => c.leader() !== undefined, 5000);
  const leader = c.leader()!;
  const granted = (await c.sim.settle(
    leader.enqueue('lease-grant', { ttlSeconds: TTL_SECONDS }),
  )) as LeaseGrantResponse;
  await c.sim.settle(leader.enqueue('put', { key: 'held', value: 'x', lease: granted.id }));
  return granted.id;
}

function leaseExists(c: ReturnType<typeof cluster>, id: number): boolean {
  const leader = c.leader();
  return leader !== undefined && c.store(leader.id).lease(id) !== undefined;
}

test('a lease never expires while keepalives reach the leader less than one TTL apart, across leader crashes', async () => {
  for (const seed of seedsFromEnv(8)) {
    const c = cluster(seed);
    try {
      const id = await grant(c);
      const intervalMs = (TTL_SECONDS * 1000) / 3;
      for (let round = 0; round < 45; round++) {
        await c.sim.runFor(intervalMs);
        // A keepalive that finds no leader is retried every 50 ms, as the client does.
        let attempts = 0;
        while (!(await keepAlive(c, id))) {
          assert.ok(++attempts < 40, `keepalive refused for 2 s at round ${round}: the lease is gone`);
          await c.sim.runFor(50);
        }
        if (round % 15 === 7) {
          const leader = c.leader()!;
          c.crash(leader.id);
          await c.sim.runFor(200);
          c.restart(leader.id);
        }
        assert.ok(
          c.store('a').lease(id) !== undefined || c.store('b').lease(id) !== undefined,
          `lease gone at round ${round}`,
        );
      }
      const leader = c.leader()!;
      assert.ok(c.store(leader.id).lease(id) !== undefined, 'lease gone at the end');
      assert.equal(c.store(leader.id).range({ key: 'held' }).count, 1);
    } catch (error) {
      throw new Error(`seed ${seed} failed (replay: SKEIN_SEED=${seed}): ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      c.stopAll();
    }
  }
});

test('a lease expires once keepalives stop, even when the leader crashes right after, and its keys go with it', async () => {
  for (const seed of seedsFromEnv(8)) {
    const c = cluster(seed);
    try {
      const id = await grant(c);
      for (let i = 0; i < 5; i++) {
        await c.sim.runFor(500);
        assert.ok(await keepAlive(c, id), `keepalive ${i} refused: the lease is gone`);
      }
      const lastKeepAliveMs = c.sim.clock.now();
      await c.sim.runFor(300);
      c.crash(c.leader()!.id);
      // Not before one TTL after the last keepalive...
      await c.sim.runUntil(() => c.sim.clock.now() >= lastKeepAliveMs + TTL_SECONDS * 1000 - 50, 10_000);
      await c.sim.runUntil(() => c.leader() !== undefined, 5000);
      assert.ok(leaseExists(c, id), 'expired before its TTL ran out');
      // ...and at most: the old leader's TTL, a new election, and the new leader's fresh TTL.
      const boundMs = lastKeepAliveMs + 300 + MAX_ELECTION_MS + TTL_SECONDS * 1000 + 500;
      const gone = await c.sim.runUntil(() => !leaseExists(c, id), boundMs - c.sim.clock.now());
      assert.ok(gone, `lease still alive ${c.sim.clock.now() - lastKeepAliveMs} ms after the last keepalive`);
      const leader = c.leader()!;
      assert.equal(
        c.store(leader.id).range({ key: 'held' }).count,
        0,
        'the key attached to the lease was not deleted',
      );
    } catch (error) {
      throw new Error(`seed ${seed} failed (replay: SKEIN_SEED=${seed}): ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      c.stopAll();
    }
  }
});

test('a deposed leader that has not heard of it yet renews nothing, and the lease lives on with the new leader', async () => {
  for (const seed of seedsFromEnv(8)) {
    // Without check-quorum a cut-off leader keeps believing it leads: the widest window there is.
    const c = cluster(seed, { checkQuorum: false });
    try {
      const id = await grant(c);
      const deposed = c.leader()!;
      const others = c.sim.ids.filter((x) => x !== deposed.id);
      c.sim.network.partition([deposed.id], others);
      assert.ok(
        await c.sim.runUntil(() => c.leader()?.id !== deposed.id && c.leader() !== undefined, 5000),
        'no new leader on the majority side',
      );
      assert.equal(
        deposed.leadingTerm,
        deposed.core.term,
        'the cut-off leader should still believe it leads',
      );
      // The holder renews through every member at once, as a client that tries each endpoint would.
      const byDeposed: Promise<unknown>[] = [];
      for (let round = 0; round < 12; round++) {
        byDeposed.push(
          c
            .expiry(deposed.id)!
            .keepAlive(id)
            .catch(() => null),
        );
        for (const other of others)
          void c
            .expiry(other)!
            .keepAlive(id)
            .catch(() => null);
        await c.sim.runFor((TTL_SECONDS * 1000) / 3);
      }
      const leader = c.leader()!;
      assert.ok(
        c.store(leader.id).lease(id) !== undefined,
        'the lease expired although keepalives reached the leader',
      );
      c.sim.network.heal();
      await c.sim.runFor(1000);
      const answers = await Promise.all(byDeposed.map((p) => c.sim.settle(p)));
      assert.deepEqual(
        answers.filter((a) => a !== null && a !== undefined),
        [],
        'the deposed leader renewed a lease on a clock nobody reads',
      );
      assert.ok(c.store(c.leader()!.id).lease(id) !== undefined, 'lease gone after the heal');
    } catch (error) {
      throw new Error(`seed ${seed} failed (replay: SKEIN_SEED=${seed}): ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      c.stopAll();
    }
  }
});

/** The lease clock of one member, whose timers can be held back as if its process were paused. */
class PausableClock implements Clock {
  readonly #inner: Clock;
  #held: (() => void)[] | null = null;

  constructor(inner: Clock) {
    this.#inner = inner;
  }

  now(): number {
    return this.#inner.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.#inner.setTimeout(() => {
      if (this.#held === null) callback();
      else this.#held.push(callback);
    }, delayMs);
  }

  clearTimeout(handle: TimerHandle): void {
    this.#inner.clearTimeout(handle);
  }

  pause(): void {
    this.#held = [];
  }

  /** Run the timers that came due while paused, as a process does first thing after a pause. */
  resume(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const callback of held) callback();
  }
}

test('a leader whose process was paused does not expire leases whose keepalives were waiting for it', async () => {
  for (const seed of seedsFromEnv(8)) {
    const pausable = new Map<string, PausableClock>();
    const c = cluster(seed, {
      leaseClock: (member, simClock) => {
        const clock = new PausableClock(simClock);
        pausable.set(member, clock);
        return clock;
      },
    });
    try {
      const id = await grant(c);
      const leader = c.leader()!;
      assert.ok(await keepAlive(c, id));
      // Paused for 1.5 TTLs: the holder's keepalives wait in the leader's sockets meanwhile. Raft
      // itself keeps running (its followers see heartbeats), so the leader stays the leader.
      pausable.get(leader.id)!.pause();
      await c.sim.runFor(TTL_SECONDS * 1500);
      pausable.get(leader.id)!.resume(); // the overdue check runs first...
      assert.ok(await keepAlive(c, id), 'the waiting keepalive was refused'); // ...then the keepalive
      await c.sim.runFor(500);
      assert.equal(c.leader()?.id, leader.id, 'the leader changed; the pause was not what was tested');
      assert.ok(leaseExists(c, id), 'the leader expired a lease whose keepalive was waiting for it');
    } catch (error) {
      throw new Error(`seed ${seed} failed (replay: SKEIN_SEED=${seed}): ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      c.stopAll();
    }
  }
});
