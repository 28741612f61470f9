import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { GroupChange } from '../membership/index.ts';
import { CoordinationState } from './coordination-state.ts';

/** Calls processors the way RaftNode does: one command at a time, in log order. */
function apply(state: CoordinationState, action: string, params: unknown): unknown {
  const processor = state.processors()[action];
  assert.ok(processor !== undefined, `no processor ${action}`);
  return processor(params);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

async function* chunked(chunks: Iterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
  const all = Buffer.concat([...chunks]);
  for (let at = 0; at < all.byteLength; at += size) {
    await Promise.resolve(); // a real stream yields between chunks
    yield all.subarray(at, at + size);
  }
}

async function roundTrip(state: CoordinationState, chunkBytes = 7): Promise<CoordinationState> {
  const copy = new CoordinationState();
  await copy.restore(chunked(state.snapshot(), chunkBytes));
  return copy;
}

describe('CoordinationState', () => {
  it('a join needs a live lease; the lease’s revoke evicts the member in the same apply', () => {
    const s = new CoordinationState();
    const seen: GroupChange[] = [];
    s.onGroupChanges((changes) => seen.push(...changes));
    const join = { group: 'g', member: 'a', session: 7 };
    assert.equal(
      codeOf(() => apply(s, 'group-join', join)),
      'SKEIN_MEMBERSHIP_SESSION_NOT_FOUND',
    );
    const { id } = apply(s, 'lease-grant', { ttlSeconds: 5 }) as { id: number };
    apply(s, 'group-join', { group: 'g', member: 'a', session: id });
    apply(s, 'group-join', { group: 'g', member: 'b', session: id });
    assert.equal(s.groups.group('g')?.members.length, 2);
    apply(s, 'lease-revoke', { id, expired: true });
    assert.equal(s.groups.group('g'), null, 'both members left with their session');
    assert.deepEqual(
      seen.map((c) => c.state),
      ['SETTLING', 'SETTLING', 'DELETED'],
    );
  });

  it('a failed revoke (unknown lease) changes no group', () => {
    const s = new CoordinationState();
    const { id } = apply(s, 'lease-grant', { ttlSeconds: 5 }) as { id: number };
    apply(s, 'group-join', { group: 'g', member: 'a', session: id });
    assert.equal(
      codeOf(() => apply(s, 'lease-revoke', { id: id + 1 })),
      'SKEIN_LEASE_NOT_FOUND',
    );
    assert.equal(s.groups.group('g')?.members.length, 1);
  });

  it('a client cannot choose joinSeq: joins are ordered by the log', () => {
    const s = new CoordinationState();
    const { id } = apply(s, 'lease-grant', { ttlSeconds: 5 }) as { id: number };
    apply(s, 'group-join', { group: 'g', member: 'late', session: id, joinSeq: 0 });
    apply(s, 'group-join', { group: 'g', member: 'later', session: id, joinSeq: 0 });
    assert.deepEqual(
      s.groups.group('g')?.members.map((m) => m.id),
      ['late', 'later'],
    );
    assert.ok((s.groups.group('g')?.members[0]?.joinSeq ?? 0) > 0);
  });

  it('malformed group commands fail with a stable code and change nothing', () => {
    const s = new CoordinationState();
    for (const [action, params] of [
      ['group-join', null],
      ['group-join', { group: 'g', member: 'a' }],
      ['group-leave', 'x'],
      ['group-leave', { group: 'g' }],
      ['group-settle', { group: 'g', changeSeq: -1 }],
    ] as const) {
      assert.ok(
        ['SKEIN_MEMBERSHIP_INVALID_COMMAND'].includes(codeOf(() => apply(s, action, params)) ?? ''),
        `${action} ${JSON.stringify(params)}`,
      );
    }
    assert.deepEqual(s.groups.groupNames(), []);
  });

  it('snapshot → restore keeps keys, leases and groups, whatever the chunking', async () => {
    const s = new CoordinationState();
    apply(s, 'put', { key: 'k', value: 'v' });
    const { id } = apply(s, 'lease-grant', { ttlSeconds: 5 }) as { id: number };
    apply(s, 'group-join', { group: 'g', member: 'a', session: id, settleMs: 10 });
    const changeSeq = s.groups.group('g')?.changeSeq ?? -1;
    apply(s, 'group-settle', { group: 'g', changeSeq });
    for (const chunkBytes of [1, 3, 64, 1 << 20]) {
      const copy = await roundTrip(s, chunkBytes);
      assert.deepEqual(copy.groups.group('g'), s.groups.group('g'));
      assert.deepEqual(copy.kv.range({ key: 'k' }).kvs, s.kv.range({ key: 'k' }).kvs);
      assert.deepEqual(copy.kv.lease(id), s.kv.lease(id));
      // The restored copy keeps applying identically: the session still evicts its member.
      apply(copy, 'lease-revoke', { id });
      assert.equal(copy.groups.group('g'), null);
    }
  });

  it('restores a store-only snapshot (from before groups, or an offline-restored backup) with no groups', async () => {
    const s = new CoordinationState();
    apply(s, 'put', { key: 'k', value: 'v' });
    const copy = new CoordinationState();
    await copy.restore(chunked(s.kv.snapshot(), 5));
    assert.equal(copy.kv.range({ key: 'k' }).kvs[0]?.value, 'v');
    assert.deepEqual(copy.groups.groupNames(), []);
  });

  it('a corrupt snapshot is refused and leaves the state as it was', async () => {
    const s = new CoordinationState();
    const { id } = apply(s, 'lease-grant', { ttlSeconds: 5 }) as { id: number };
    apply(s, 'group-join', { group: 'g', member: 'a', session: id });
    const bytes = Buffer.concat([...s.snapshot()]);
    const target = new CoordinationState();
    const { id: other } = apply(target, 'lease-grant', { ttlSeconds: 9 }) as { id: number };
    apply(target, 'group-join', { group: 'h', member: 'z', session: other });
    const before = Buffer.concat([...target.snapshot()]).toString('hex');
    for (const broken of [
      bytes.subarray(0, 3),
      bytes.subarray(0, bytes.byteLength - 2),
      Buffer.from([0, 0, 0, 2, 0xc1, 0xc1]),
    ]) {
      await assert.rejects(target.restore(chunked([broken], 4)), (error: { code?: string }) => {
        assert.match(error.code ?? '', /^SKEIN_(SNAPSHOT_CORRUPT|DECODE_FAILED|MEMBERSHIP_INVALID_COMMAND)/);
        return true;
      });
      assert.equal(Buffer.concat([...target.snapshot()]).toString('hex'), before);
    }
  });

  it('property: replicas applying the same commands, one restored midway, stay byte-identical', async () => {
    const command = fc.oneof(
      fc.record({ action: fc.constant('lease-grant'), params: fc.constant({ ttlSeconds: 5 }) }),
      fc.record({
        action: fc.constant('lease-revoke'),
        params: fc.record({ id: fc.integer({ min: 1, max: 4 }) }),
      }),
      fc.record({
        action: fc.constant('group-join'),
        params: fc.record({
          group: fc.constantFrom('g1', 'g2'),
          member: fc.constantFrom('a', 'b', 'c'),
          session: fc.integer({ min: 1, max: 4 }),
        }),
      }),
      fc.record({
        action: fc.constant('group-leave'),
        params: fc.record({ group: fc.constantFrom('g1', 'g2'), member: fc.constantFrom('a', 'b', 'c') }),
      }),
      fc.record({
        action: fc.constant('group-settle'),
        params: fc.record({ group: fc.constantFrom('g1', 'g2'), changeSeq: fc.integer({ min: 0, max: 30 }) }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(command, { maxLength: 30 }), fc.nat(30), async (commands, restoreAt) => {
        const a = new CoordinationState();
        let b = new CoordinationState();
        for (const [i, c] of commands.entries()) {
          if (i === restoreAt) b = await roundTrip(b);
          const ra = codeOf(() => apply(a, c.action, c.params));
          const rb = codeOf(() => apply(b, c.action, c.params));
          assert.equal(rb, ra, `command ${i} ${c.action} fails alike`);
        }
        assert.equal(
          Buffer.concat([...b.snapshot()]).toString('hex'),
          Buffer.concat([...a.snapshot()]).toString('hex'),
        );
      }),
      { numRuns: 100 },
    );
  });
});
