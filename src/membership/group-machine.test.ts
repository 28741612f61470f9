import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { JoinCommand, MembershipCommand } from './commands.ts';
import { GroupMachine, type GroupView } from './group-machine.ts';
import { restoreGroups, snapshotGroups } from './snapshot.ts';

function join(group: string, member: string, session: number, joinSeq: number): JoinCommand {
  return { type: 'join', group, member, session, joinSeq };
}

function settleNow(m: GroupMachine, group: string): void {
  const view = m.group(group);
  assert.ok(view !== null);
  const r = m.apply({ type: 'settle', group, changeSeq: view.changeSeq });
  assert.ok(r.ok && r.changes.length === 1, `settle of ${group} did nothing`);
}

function indexes(view: GroupView | null): Record<string, number | null> {
  assert.ok(view !== null);
  return Object.fromEntries(view.members.map((m) => [m.id, m.index]));
}

describe('GroupMachine', () => {
  it('a join makes the group SETTLING with no indexes; a settle numbers it and bumps the generation', () => {
    const m = new GroupMachine();
    assert.ok(m.apply(join('g', 'a', 1, 1)).ok);
    assert.ok(m.apply(join('g', 'b', 2, 2)).ok);
    let view = m.group('g');
    assert.equal(view?.state, 'SETTLING');
    assert.equal(view.total, null);
    assert.deepEqual(indexes(view), { a: null, b: null });
    assert.equal(view.generation, 0);
    settleNow(m, 'g');
    view = m.group('g');
    assert.equal(view?.state, 'SETTLED');
    assert.equal(view.total, 2);
    assert.deepEqual(indexes(view), { a: 1, b: 2 });
    assert.ok(view.generation > 0);
  });

  it('a repeated join on the same session changes nothing (a heartbeat never disturbs a settled group)', () => {
    const m = new GroupMachine();
    m.apply(join('g', 'a', 1, 1));
    settleNow(m, 'g');
    const before = snapshotGroups(m);
    const r = m.apply(join('g', 'a', 1, 7));
    assert.deepEqual(r, { ok: true, changes: [] });
    assert.deepEqual(snapshotGroups(m), before);
  });

  it('a member rejoining on another session is a change: new settle, new generation', () => {
    const m = new GroupMachine();
    m.apply(join('g', 'a', 1, 1));
    settleNow(m, 'g');
    const gen = m.group('g')?.generation ?? 0;
    const r = m.apply(join('g', 'a', 2, 5));
    assert.ok(r.ok && r.changes[0]?.state === 'SETTLING');
    // the old session no longer holds it: expiring it changes nothing
    assert.deepEqual(m.apply({ type: 'session-expired', session: 1 }), { ok: true, changes: [] });
    settleNow(m, 'g');
    assert.ok((m.group('g')?.generation ?? 0) > gen);
    assert.equal(m.group('g')?.members[0]?.session, 2);
  });

  it('a settle carrying an old changeSeq is a no-op', () => {
    const m = new GroupMachine();
    m.apply(join('g', 'a', 1, 1));
    const stale = m.group('g')?.changeSeq ?? -1;
    m.apply(join('g', 'b', 1, 2)); // the group changed after the leader decided to settle
    const before = snapshotGroups(m);
    assert.deepEqual(m.apply({ type: 'settle', group: 'g', changeSeq: stale }), { ok: true, changes: [] });
    assert.deepEqual(snapshotGroups(m), before);
    assert.equal(m.group('g')?.state, 'SETTLING');
  });

  it('leaving an unknown group or member fails and leaves the group untouched (bloc: 500)', () => {
    const m = new GroupMachine();
    m.apply(join('g', 'a', 1, 1));
    settleNow(m, 'g');
    const before = snapshotGroups(m);
    for (const cmd of [
      { type: 'leave', group: 'g', member: 'zz' },
      { type: 'leave', group: 'nope', member: 'a' },
    ] as const) {
      const r = m.apply(cmd);
      assert.equal(r.ok ? 'ok' : r.code, 'SKEIN_MEMBERSHIP_NOT_MEMBER');
    }
    assert.deepEqual(snapshotGroups(m), before);
  });

  it('session expiry removes every member bound to the session, in every group', () => {
    const m = new GroupMachine();
    m.apply(join('g1', 'a', 7, 1));
    m.apply(join('g2', 'a', 7, 2));
    m.apply(join('g2', 'b', 8, 3));
    const r = m.apply({ type: 'session-expired', session: 7 });
    assert.ok(r.ok);
    assert.deepEqual(
      r.changes.map((c) => [c.group, c.state]),
      [
        ['g1', 'DELETED'],
        ['g2', 'SETTLING'],
      ],
    );
    assert.equal(m.group('g1'), null);
    assert.deepEqual(indexes(m.group('g2')), { b: null });
  });

  it('generations and changeSeqs are never reused, even when a group is deleted and recreated', () => {
    const m = new GroupMachine();
    m.apply(join('g', 'a', 1, 1));
    settleNow(m, 'g');
    const first = m.group('g');
    m.apply({ type: 'leave', group: 'g', member: 'a' });
    assert.equal(m.group('g'), null);
    m.apply(join('g', 'b', 2, 2));
    // the old incarnation's settle must not settle the new one
    assert.deepEqual(m.apply({ type: 'settle', group: 'g', changeSeq: first?.changeSeq ?? -1 }).ok, true);
    assert.equal(m.group('g')?.state, 'SETTLING');
    settleNow(m, 'g');
    assert.ok((m.group('g')?.generation ?? 0) > (first?.generation ?? 0));
  });

  it('a group keeps the settle period it was created with, and reports it in every change', () => {
    const m = new GroupMachine();
    const created = m.apply({ ...join('g', 'a', 1, 1), settleMs: 250 });
    assert.equal(created.ok && created.changes[0]?.settleMs, 250);
    const r = m.apply({ ...join('g', 'b', 1, 2), settleMs: 300 });
    assert.equal(!r.ok && r.code, 'SKEIN_MEMBERSHIP_SETTLE_MISMATCH');
    assert.ok(m.apply(join('g', 'b', 1, 2)).ok, 'a join without settleMs accepts the group’s');
    assert.equal(m.group('g')?.settleMs, 250);
    assert.deepEqual(m.settlingGroups(), [{ group: 'g', changeSeq: 2, settleMs: 250 }]);
    m.apply(join('h', 'a', 1, 3));
    assert.equal(m.group('h')?.settleMs, 5_000, 'the default');
    const bad = m.apply({ ...join('k', 'a', 1, 4), settleMs: 3_600_001 });
    assert.equal(!bad.ok && bad.code, 'SKEIN_MEMBERSHIP_INVALID_COMMAND');
  });

  it('refuses, without any change, a member that heartbeats less often than the group settles', () => {
    const m = new GroupMachine();
    m.apply({ ...join('g', 'a', 1, 1), settleMs: 1_000 });
    const before = snapshotGroups(m);
    const r = m.apply({ ...join('g', 'b', 2, 2), heartbeatIntervalMs: 1_001 });
    assert.equal(!r.ok && r.code, 'SKEIN_MEMBERSHIP_SETTLE_MISMATCH');
    assert.deepEqual(snapshotGroups(m), before);
    assert.ok(m.apply({ ...join('g', 'b', 2, 2), heartbeatIntervalMs: 1_000 }).ok);
    const fresh = m.apply({ ...join('h', 'a', 1, 3), heartbeatIntervalMs: 6_000 }); // default 5 s
    assert.equal(!fresh.ok && fresh.code, 'SKEIN_MEMBERSHIP_SETTLE_MISMATCH');
    assert.equal(m.group('h'), null, 'no group created');
  });

  it('a join without joinSeq is ordered by the change it makes', () => {
    const m = new GroupMachine();
    m.apply({ type: 'join', group: 'g', member: 'b', session: 1 });
    m.apply({ type: 'join', group: 'g', member: 'a', session: 1 });
    assert.deepEqual(
      m.group('g')?.members.map((x) => [x.id, x.joinSeq]),
      [
        ['b', 1],
        ['a', 2],
      ],
    );
  });

  it('a group keeps the strategy it was created with', () => {
    const m = new GroupMachine();
    m.apply({ ...join('g', 'a', 1, 1), strategy: 'join-order' });
    const r = m.apply({ ...join('g', 'b', 1, 2), strategy: 'sticky' });
    assert.equal(!r.ok && r.code, 'SKEIN_MEMBERSHIP_STRATEGY_MISMATCH');
    assert.ok(m.apply(join('g', 'b', 1, 2)).ok);
    assert.equal(m.group('g')?.strategy, 'join-order');
    m.apply(join('h', 'a', 1, 3));
    assert.equal(m.group('h')?.strategy, 'sticky');
  });

  it('enforces its limits and rejects malformed commands identically', () => {
    const m = new GroupMachine({ maxGroups: 1, maxMembersPerGroup: 2, maxNameLength: 8, maxMetadataSize: 4 });
    assert.ok(m.apply(join('g', 'a', 1, 1)).ok);
    assert.ok(m.apply(join('g', 'b', 1, 2)).ok);
    const codeOf = (c: unknown): string | false => {
      const r = m.apply(c as MembershipCommand);
      return !r.ok && r.code;
    };
    assert.equal(codeOf(join('g', 'c', 1, 3)), 'SKEIN_MEMBERSHIP_LIMIT_EXCEEDED');
    assert.equal(codeOf(join('h', 'a', 1, 3)), 'SKEIN_MEMBERSHIP_LIMIT_EXCEEDED');
    assert.equal(
      codeOf({ ...join('g', 'a', 9, 3), metadata: { addr: 'long' } }),
      'SKEIN_MEMBERSHIP_LIMIT_EXCEEDED',
    );
    assert.equal(codeOf(join('g', 'a-very-long-id', 1, 3)), 'SKEIN_MEMBERSHIP_INVALID_COMMAND');
    assert.equal(
      codeOf({ type: 'join', group: 'g', member: 'a', session: -1, joinSeq: 1 }),
      'SKEIN_MEMBERSHIP_INVALID_COMMAND',
    );
    assert.equal(codeOf({ ...join('g', 'a', 1, 1), weight: 0 }), 'SKEIN_MEMBERSHIP_INVALID_COMMAND');
    assert.equal(codeOf({ type: 'settle', group: 'g' }), 'SKEIN_MEMBERSHIP_INVALID_COMMAND');
    assert.equal(codeOf({ type: 'frobnicate' }), 'SKEIN_MEMBERSHIP_INVALID_COMMAND');
    assert.equal(codeOf(null), 'SKEIN_MEMBERSHIP_INVALID_COMMAND');
  });

  it('publishes weight and metadata without letting them affect indexes', () => {
    const m = new GroupMachine();
    m.apply({ ...join('g', 'a', 1, 1), weight: 5, metadata: { addr: '127.0.0.1:1' } });
    m.apply({ ...join('g', 'b', 1, 2), weight: 0.5 });
    settleNow(m, 'g');
    const view = m.group('g');
    assert.deepEqual(
      view?.members.map((x) => [x.id, x.index, x.weight, x.metadata]),
      [
        ['a', 1, 5, { addr: '127.0.0.1:1' }],
        ['b', 2, 0.5, {}],
      ],
    );
  });
});

// ---- properties over random command sequences ----

const GROUPS = ['g1', 'g2'];
const arbCommand: fc.Arbitrary<MembershipCommand | 'settle-current'> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      type: fc.constant('join' as const),
      group: fc.constantFrom(...GROUPS),
      member: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      session: fc.integer({ min: 1, max: 4 }),
      joinSeq: fc.nat(50),
      strategy: fc.constantFrom('sticky' as const, 'join-order' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('leave' as const),
      group: fc.constantFrom(...GROUPS),
      member: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('session-expired' as const),
      session: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('settle' as const),
      group: fc.constantFrom(...GROUPS),
      changeSeq: fc.nat(40),
    }),
  },
  { weight: 4, arbitrary: fc.constant('settle-current' as const) },
);

/** Turns 'settle-current' into a settle of a random-but-determined group with its current changeSeq. */
function concrete(m: GroupMachine, c: MembershipCommand | 'settle-current', i: number): MembershipCommand {
  if (c !== 'settle-current') return c;
  const group = GROUPS[i % GROUPS.length]!;
  return { type: 'settle', group, changeSeq: m.group(group)?.changeSeq ?? 0 };
}

function checkIndexes(m: GroupMachine): void {
  for (const name of m.groupNames()) {
    const view = m.group(name);
    assert.ok(view !== null);
    if (view.state !== 'SETTLED') {
      assert.ok(view.members.every((x) => x.index === null));
      continue;
    }
    assert.equal(view.total, view.members.length);
    assert.deepEqual(
      view.members.map((x) => x.index).sort((a, b) => (a ?? 0) - (b ?? 0)),
      view.members.map((_, i) => i + 1),
    );
  }
}

describe('GroupMachine properties', () => {
  it('settled groups hold exactly 1..total; stale and failed commands change nothing; generations only grow', () => {
    fc.assert(
      fc.property(fc.array(arbCommand, { maxLength: 60 }), (commands) => {
        const m = new GroupMachine();
        const generations = new Map<string, number>();
        commands.forEach((c, i) => {
          const cmd = concrete(m, c, i);
          const before = snapshotGroups(m);
          const current = cmd.type === 'settle' ? m.group(cmd.group) : null;
          const r = m.apply(cmd);
          if (
            cmd.type === 'settle' &&
            (current?.state !== 'SETTLING' || current.changeSeq !== cmd.changeSeq)
          ) {
            assert.deepEqual(r, { ok: true, changes: [] });
            assert.deepEqual(snapshotGroups(m), before);
          }
          if (!r.ok) assert.deepEqual(snapshotGroups(m), before, 'a failed command must not change state');
          // Settled generations only grow per name, across deletes and re-creations too
          // (a re-created group reports 0 until its first settle: "never settled").
          for (const name of m.groupNames()) {
            const g = m.group(name)?.generation ?? 0;
            if (g === 0) continue;
            assert.ok(g >= (generations.get(name) ?? 0), `generation of ${name} went back`);
            generations.set(name, g);
          }
          checkIndexes(m);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('snapshot → restore gives the same state and the same future', () => {
    fc.assert(
      fc.property(
        fc.array(arbCommand, { maxLength: 40 }),
        fc.array(arbCommand, { maxLength: 40 }),
        (past, future) => {
          const a = new GroupMachine();
          past.forEach((c, i) => a.apply(concrete(a, c, i)));
          const bytes = snapshotGroups(a);
          const hex = Buffer.from(bytes).toString('hex'); // decoding may attach properties to `bytes`
          const b = restoreGroups(bytes);
          assert.equal(Buffer.from(snapshotGroups(b)).toString('hex'), hex);
          future.forEach((c, i) => {
            const cmd = concrete(a, c, i);
            assert.deepEqual(b.apply(cmd), a.apply(cmd));
            for (const name of GROUPS) assert.deepEqual(b.group(name), a.group(name));
          });
          assert.deepEqual(snapshotGroups(b), snapshotGroups(a));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a session bound in several groups expires them in the same order after a restore (CI seed -1105431510)', () => {
    const a = new GroupMachine();
    a.apply({ type: 'join', group: 'g1', member: 'a', session: 1, joinSeq: 0, strategy: 'sticky' });
    a.apply({ type: 'join', group: 'g2', member: 'a', session: 3, joinSeq: 0, strategy: 'sticky' });
    a.apply({ type: 'join', group: 'g1', member: 'a', session: 3, joinSeq: 0, strategy: 'sticky' });
    const b = restoreGroups(snapshotGroups(a));
    const expiry = { type: 'session-expired', session: 3 } as const;
    assert.deepEqual(b.apply(expiry), a.apply(expiry), 'same changes, same changeSeqs');
    assert.deepEqual(snapshotGroups(b), snapshotGroups(a), 'same state');
  });

  it('restore rejects a corrupt snapshot with a stable code', () => {
    const m = new GroupMachine();
    m.apply(join('g', 'a', 1, 1));
    settleNow(m, 'g');
    assert.throws(() => restoreGroups(new Uint8Array([0xc1])), { code: 'SKEIN_DECODE_FAILED' });
    const bytes = snapshotGroups(m);
    for (let i = 0; i < bytes.length; i++) {
      const broken = Uint8Array.from(bytes);
      broken[i] = broken[i]! ^ 0xff;
      try {
        restoreGroups(broken);
      } catch (error) {
        assert.ok(
          ['SKEIN_DECODE_FAILED', 'SKEIN_MEMBERSHIP_INVALID_COMMAND'].includes(
            (error as { code: string }).code,
          ),
        );
      }
    }
  });
});
