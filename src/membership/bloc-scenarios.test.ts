/**
 * bloc's scenarios (reference §1.5) on virtual time: the replicated GroupMachine, the leader's
 * SettleClock and a minimal stand-in for the coordination service's leases (keepalive = bloc's
 * heartbeat; a lease not kept alive for `ttlMs` expires). Commands are applied in order, as a
 * log would, and a leader change swaps in a fresh SettleClock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { VirtualClock } from '../core/clock.ts';
import type { MembershipCommand } from './commands.ts';
import { GroupMachine, type ApplyResult } from './group-machine.ts';
import { SettleClock } from './settle-clock.ts';

class Harness {
  readonly clock = new VirtualClock();
  readonly machine = new GroupMachine();
  readonly settleMs: number;
  readonly ttlMs: number;
  leader: SettleClock;
  /** lease id → last keepalive (ms) */
  readonly #leases = new Map<number, number>();
  #logIndex = 0;

  constructor(settleMs: number, ttlMs = 4_000) {
    this.settleMs = settleMs;
    this.ttlMs = ttlMs;
    this.leader = new SettleClock();
  }

  /** Every change applied, with the virtual time it was applied at. */
  readonly history: { atMs: number; group: string; state: string; leaderSinceMs: number }[] = [];
  leaderSinceMs = 0;

  apply(command: MembershipCommand): ApplyResult {
    this.#logIndex++;
    const result = this.machine.apply(command);
    if (!result.ok) return result;
    for (const change of result.changes) {
      this.leader.observe(change, this.clock.now());
      this.history.push({
        atMs: this.clock.now(),
        group: change.group,
        state: change.state,
        leaderSinceMs: this.leaderSinceMs,
      });
    }
    return result;
  }

  /** bloc's GET /index: a heartbeat (lease keepalive) plus a join. */
  heartbeat(group: string, member: string, session: number): ApplyResult {
    this.#leases.set(session, this.clock.now());
    return this.apply({
      type: 'join',
      group,
      member,
      session,
      joinSeq: this.#logIndex + 1,
      settleMs: this.settleMs,
    });
  }

  /** Advances virtual time, expiring leases and proposing due settles at their exact times. */
  advance(ms: number): void {
    const target = this.clock.now() + ms;
    for (;;) {
      const expiries = [...this.#leases.values()].map((last) => last + this.ttlMs);
      const next = Math.min(this.leader.nextDueMs() ?? Infinity, ...expiries);
      if (next > target) break;
      this.clock.advance(Math.max(0, next - this.clock.now()));
      for (const [session, last] of [...this.#leases]) {
        if (last + this.ttlMs <= this.clock.now()) {
          this.#leases.delete(session);
          this.apply({ type: 'session-expired', session });
        }
      }
      for (const settle of this.leader.due(this.clock.now())) this.apply(settle);
    }
    this.clock.advance(target - this.clock.now());
  }

  /** A new leader takes over now. */
  failover(): void {
    this.leaderSinceMs = this.clock.now();
    this.leader = SettleClock.forNewLeader(this.machine.settlingGroups(), this.clock.now());
  }

  state(group: string): string {
    return this.machine.group(group)?.state ?? 'NONE';
  }

  indexes(group: string): Record<string, number | null> {
    return Object.fromEntries(this.machine.group(group)?.members.map((m) => [m.id, m.index]) ?? []);
  }
}

describe('bloc scenarios on virtual time', () => {
  it('settles exactly settleMs after the last change', () => {
    const h = new Harness(6_000, 60_000);
    h.heartbeat('g', 'a', 1);
    h.advance(5_999);
    assert.equal(h.state('g'), 'SETTLING');
    h.advance(1);
    assert.equal(h.state('g'), 'SETTLED');
    assert.deepEqual(h.indexes('g'), { a: 1 });
    assert.equal(h.machine.group('g')?.total, 1);
  });

  it('a leave before settling restarts the full period (add, add, +5 s remove, +6 s not settled, +4 s settled)', () => {
    const h = new Harness(10_000, 60_000);
    h.heartbeat('g', 'a', 1);
    h.heartbeat('g', 'b', 2);
    h.advance(5_000);
    assert.ok(h.apply({ type: 'leave', group: 'g', member: 'b' }).ok);
    h.advance(6_000);
    assert.equal(h.state('g'), 'SETTLING');
    assert.deepEqual(h.indexes('g'), { a: null });
    h.advance(4_000);
    assert.equal(h.state('g'), 'SETTLED');
    assert.deepEqual(h.indexes('g'), { a: 1 });
  });

  it('heartbeats of existing members keep the group SETTLED and the generation unchanged', () => {
    const h = new Harness(6_000, 4_000);
    h.heartbeat('g', 'a', 1);
    h.heartbeat('g', 'b', 2);
    for (let t = 0; t < 10; t++) {
      h.advance(3_000);
      h.heartbeat('g', 'a', 1);
      h.heartbeat('g', 'b', 2);
    }
    const settled = h.machine.group('g');
    for (let t = 0; t < 10; t++) {
      h.advance(3_000);
      h.heartbeat('g', 'a', 1);
      h.heartbeat('g', 'b', 2);
      assert.deepEqual(h.machine.group('g'), settled);
    }
    assert.equal(settled?.state, 'SETTLED');
  });

  it('a member that stops heartbeating is evicted when its lease expires; the rest settle again', () => {
    const h = new Harness(6_000, 4_000);
    h.heartbeat('g', 'a', 1);
    h.heartbeat('g', 'b', 2);
    h.heartbeat('g', 'c', 3);
    h.advance(3_000);
    h.heartbeat('g', 'a', 1);
    h.heartbeat('g', 'c', 3); // b falls silent at t=0
    h.advance(999);
    assert.equal(h.machine.group('g')?.members.length, 3);
    h.advance(1); // t=4000: b's lease expires
    assert.deepEqual(h.indexes('g'), { a: null, c: null });
    h.heartbeat('g', 'a', 1);
    h.heartbeat('g', 'c', 3);
    h.advance(3_000);
    h.heartbeat('g', 'a', 1);
    h.heartbeat('g', 'c', 3);
    h.advance(3_000); // t=10000: 6 s after the eviction
    assert.equal(h.state('g'), 'SETTLED');
    assert.deepEqual(h.indexes('g'), { a: 1, c: 2 }); // sticky: c had 3 > total 2, takes the free 2
  });

  it('a leave (DELETE /session) makes the group SETTLING for everyone; join-order compacts', () => {
    const h = new Harness(1_000, 60_000);
    h.apply({
      type: 'join',
      group: 'g',
      member: 'a',
      session: 1,
      joinSeq: 1,
      strategy: 'join-order',
      settleMs: 1_000,
    });
    h.heartbeat('g', 'b', 2);
    h.heartbeat('g', 'c', 3);
    h.advance(1_000);
    assert.deepEqual(h.indexes('g'), { a: 1, b: 2, c: 3 });
    h.apply({ type: 'leave', group: 'g', member: 'a' });
    assert.deepEqual(h.indexes('g'), { b: null, c: null });
    h.advance(1_000);
    assert.deepEqual(h.indexes('g'), { b: 1, c: 2 });
  });

  it('an unknown leave fails and the group stays SETTLED (bloc answered 500)', () => {
    const h = new Harness(1_000, 60_000);
    h.heartbeat('g', 'a', 1);
    h.advance(1_000);
    const r = h.apply({ type: 'leave', group: 'g', member: 'ghost' });
    assert.equal(r.ok ? 'ok' : r.code, 'SKEIN_MEMBERSHIP_NOT_MEMBER');
    assert.equal(h.state('g'), 'SETTLED');
  });

  it('SETTLING → SETTLED → SETTLING → SETTLED with growing generations (bloc client sequence)', () => {
    const h = new Harness(2_000, 60_000);
    const seen: [string, number][] = [];
    const look = (): void => {
      const g = h.machine.group('g');
      seen.push([g?.state ?? 'NONE', g?.generation ?? -1]);
    };
    h.heartbeat('g', 'a', 1);
    look();
    h.advance(2_000);
    look();
    h.heartbeat('g', 'b', 2);
    look();
    h.advance(2_000);
    look();
    assert.deepEqual(
      seen.map(([s]) => s),
      ['SETTLING', 'SETTLED', 'SETTLING', 'SETTLED'],
    );
    assert.ok(seen[3]![1] > seen[1]![1] && seen[1]![1] > 0);
  });

  it('a new leader restarts the settle period of SETTLING groups and never reshuffles SETTLED ones', () => {
    const h = new Harness(6_000, 600_000);
    h.heartbeat('stable', 'a', 1);
    h.heartbeat('stable', 'b', 2);
    h.advance(6_000);
    const stable = h.machine.group('stable');
    assert.equal(stable?.state, 'SETTLED');
    h.heartbeat('moving', 'x', 3);
    h.advance(4_000); // 2 s before the old leader would have settled 'moving'
    h.failover();
    h.advance(5_999);
    assert.equal(h.state('moving'), 'SETTLING'); // the new leader waits a full period
    h.advance(1);
    assert.equal(h.state('moving'), 'SETTLED');
    h.failover();
    h.advance(60_000);
    assert.deepEqual(h.machine.group('stable'), stable);
  });

  it("an old leader's settle that lands after a newer change does nothing", () => {
    const h = new Harness(6_000, 60_000);
    h.heartbeat('g', 'a', 1);
    h.advance(6_000 - 1);
    const old = h.leader;
    h.clock.advance(1);
    const decided = old.due(h.clock.now()); // the old leader decides…
    assert.equal(decided.length, 1);
    h.failover();
    h.heartbeat('g', 'b', 2); // …but a join commits first
    assert.deepEqual(h.apply(decided[0]!), { ok: true, changes: [] });
    assert.equal(h.state('g'), 'SETTLING');
    h.advance(6_000);
    assert.deepEqual(h.indexes('g'), { a: 1, b: 2 });
  });
});

describe('SettleClock', () => {
  it('proposes a settle once, again only after retryMs, and forgets a settled group', () => {
    const c = new SettleClock({ retryMs: 50 });
    c.observe({ group: 'g', state: 'SETTLING', changeSeq: 1, generation: 0, settleMs: 100 }, 0);
    assert.equal(c.nextDueMs(), 100);
    assert.deepEqual(c.due(99), []);
    assert.deepEqual(c.due(100), [{ type: 'settle', group: 'g', changeSeq: 1 }]);
    assert.deepEqual(c.due(120), []);
    assert.equal(c.nextDueMs(), 150);
    assert.deepEqual(c.due(150), [{ type: 'settle', group: 'g', changeSeq: 1 }]);
    c.observe({ group: 'g', state: 'SETTLED', changeSeq: 1, generation: 1, settleMs: 100 }, 151);
    assert.equal(c.size, 0);
    assert.equal(c.nextDueMs(), null);
  });

  it('a newer change restarts the period; a repeated report of the same change does not', () => {
    const c = new SettleClock();
    c.observe({ group: 'a', state: 'SETTLING', changeSeq: 1, generation: 0, settleMs: 100 }, 0);
    c.observe({ group: 'b', state: 'SETTLING', changeSeq: 2, generation: 0, settleMs: 100 }, 10);
    c.observe({ group: 'a', state: 'SETTLING', changeSeq: 1, generation: 0, settleMs: 100 }, 50);
    assert.equal(c.nextDueMs(), 100);
    c.observe({ group: 'a', state: 'SETTLING', changeSeq: 3, generation: 0, settleMs: 100 }, 60);
    assert.equal(c.nextDueMs(), 110);
    assert.deepEqual(c.due(160), [
      { type: 'settle', group: 'b', changeSeq: 2 },
      { type: 'settle', group: 'a', changeSeq: 3 },
    ]);
    c.observe({ group: 'b', state: 'DELETED', changeSeq: 2, generation: 0, settleMs: 100 }, 170);
    assert.equal(c.size, 1);
  });

  it('each group waits its own settle period', () => {
    const c = new SettleClock();
    c.observe({ group: 'slow', state: 'SETTLING', changeSeq: 1, generation: 0, settleMs: 100 }, 0);
    c.observe({ group: 'fast', state: 'SETTLING', changeSeq: 2, generation: 0, settleMs: 50 }, 10);
    assert.equal(c.nextDueMs(), 60);
    assert.deepEqual(c.due(60), [{ type: 'settle', group: 'fast', changeSeq: 2 }]);
    assert.deepEqual(c.due(99), []);
    assert.deepEqual(c.due(100), [{ type: 'settle', group: 'slow', changeSeq: 1 }]);
  });

  it('holds its last reading if the clock goes backwards, and rejects bad options', () => {
    const c = new SettleClock();
    c.observe({ group: 'a', state: 'SETTLING', changeSeq: 1, generation: 0, settleMs: 100 }, 1_000);
    c.observe({ group: 'b', state: 'SETTLING', changeSeq: 2, generation: 0, settleMs: 100 }, 500);
    assert.equal(c.nextDueMs(), 1_100);
    assert.equal(c.due(1_100).length, 2);
    assert.throws(() => new SettleClock({ retryMs: -1 }), { code: 'SKEIN_INVALID_CONFIG' });
  });
});

describe('settling under random churn and leader changes', () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('beat' as const),
      group: fc.constantFrom('g1', 'g2'),
      member: fc.integer({ min: 1, max: 4 }),
    }),
    fc.record({
      kind: fc.constant('leave' as const),
      group: fc.constantFrom('g1', 'g2'),
      member: fc.integer({ min: 1, max: 4 }),
    }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 5_000 }) }),
    fc.constant({ kind: 'failover' as const }),
  );

  it('settles only after a full quiet period on the current leader, never disturbs a quiet SETTLED group, and always settles eventually', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const settleMs = 3_000;
        const h = new Harness(settleMs, 4_000);
        for (const o of ops) {
          if (o.kind === 'beat') h.heartbeat(o.group, `m${o.member}`, o.member);
          else if (o.kind === 'leave') h.apply({ type: 'leave', group: o.group, member: `m${o.member}` });
          else if (o.kind === 'advance') h.advance(o.ms);
          else h.failover();
        }
        h.advance(settleMs); // quiet: every remaining lease expires or the groups settle
        h.advance(4_000 + settleMs);
        for (const name of h.machine.groupNames()) assert.equal(h.state(name), 'SETTLED');
        const lastChange = new Map<string, number>();
        const lastState = new Map<string, string>();
        for (const e of h.history) {
          if (e.state === 'SETTLED') {
            const since = Math.max(lastChange.get(e.group) ?? 0, e.leaderSinceMs);
            assert.ok(
              e.atMs - since >= settleMs,
              `${e.group} settled ${e.atMs - since} ms after its last change`,
            );
            assert.notEqual(lastState.get(e.group), 'SETTLED', `${e.group} settled twice without a change`);
          } else {
            lastChange.set(e.group, e.atMs);
          }
          lastState.set(e.group, e.state);
        }
      }),
      { numRuns: 150 },
    );
  });
});
