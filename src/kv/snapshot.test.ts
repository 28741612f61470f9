import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CoreErrorCode } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { KvStore } from './store.ts';
import { chunksOf, kv, snapshotBytes } from './test-helpers.ts';

/** Feed the same pseudo-random command stream (errors included) to a store. */
function drive(t: ReturnType<typeof kv>, seed: number, commands: number): void {
  const random = new Random(seed);
  const keys = ['a', 'a/1', 'a/2', 'b', 'c', '\u{1F600}', '\uFF21'];
  for (let i = 0; i < commands; i++) {
    const key = random.pick(keys);
    try {
      switch (random.int(8)) {
        case 0:
        case 1:
        case 2:
          t.put(key, `v${i}`, { lease: random.int(3) });
          break;
        case 3:
          t.del(random.chance(0.5) ? { key } : { key: 'a', prefix: true });
          break;
        case 4:
          t.txn({
            compare: [{ key, target: 'version', op: '>', value: random.int(3) }],
            success: [{ put: { key, value: 'txn' } }, { deleteRange: { key: 'c' } }],
            failure: [{ put: { key: 'b', value: 'else' } }],
          });
          break;
        case 5:
          t.grant(30, random.chance(0.3) ? 1 + random.int(3) : undefined);
          break;
        case 6:
          t.revoke(1 + random.int(4), random.chance(0.5));
          break;
        default:
          t.compact(t.store.revision - random.int(4));
      }
    } catch {
      // Rejections are part of the stream: every member rejects the same commands.
    }
  }
}

async function restored(from: KvStore, chunkSize = 0): Promise<ReturnType<typeof kv>> {
  const t = kv();
  await t.store.restore(chunksOf(from.snapshot(), chunkSize));
  return t;
}

describe('snapshot and determinism', () => {
  it('two stores fed the same commands produce identical snapshot bytes', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const a = kv();
      const b = kv();
      drive(a, seed, 400);
      drive(b, seed, 400);
      assert.ok(a.store.revision > 50);
      assert.deepEqual(snapshotBytes(a.store), snapshotBytes(b.store), `seed ${seed}`);
    }
  });

  it('restore reproduces the state: same bytes, reads, events, next revision and lease ids', async () => {
    for (const seed of [11, 12, 13]) {
      const a = kv();
      drive(a, seed, 300);
      const b = await restored(a.store, 7 + seed); // odd re-chunking must not matter
      assert.deepEqual(snapshotBytes(b.store), snapshotBytes(a.store));
      const all = { key: '', prefix: true } as const;
      for (let r = a.store.compactRevision; r <= a.store.revision; r++) {
        if (r === 0) continue;
        assert.deepEqual(b.store.range({ ...all, revision: r }), a.store.range({ ...all, revision: r }));
      }
      const from = a.store.compactRevision + 1;
      assert.deepEqual(b.store.eventsSince(all, from, true, 1e9), a.store.eventsSince(all, from, true, 1e9));
      assert.deepEqual(
        [...b.store.leases()].map((l) => l.id),
        [...a.store.leases()].map((l) => l.id),
      );
      assert.deepEqual(b.store.members(), a.store.members());
      // The futures agree too.
      drive(a, seed + 100, 200);
      drive(b, seed + 100, 200);
      assert.deepEqual(snapshotBytes(b.store), snapshotBytes(a.store));
    }
  });

  it('keeps members, leases with keys, and the lease id counter', async () => {
    const a = kv();
    a.call('member-publish', { id: 'n1', name: 'one', clientUrl: 'http://127.0.0.1:2379' });
    const id = a.grant(60).id;
    a.grant(60, 10);
    a.put('x', '1', { lease: id });
    const b = await restored(a.store);
    assert.deepEqual(b.store.members(), a.store.members());
    assert.deepEqual(b.store.lease(id), { id, grantedTtlSeconds: 60, keys: ['x'] });
    assert.equal(b.grant(1).id, a.grant(1).id);
    assert.deepEqual(b.revoke(id), a.revoke(id));
  });

  it('txn write order within a revision survives a snapshot', async () => {
    const a = kv();
    a.txn({
      success: [
        { put: { key: 'z', value: '1' } },
        { put: { key: 'a', value: '1' } },
        { put: { key: 'm', value: '1' } },
      ],
    });
    const b = await restored(a.store);
    const keys = (t: ReturnType<typeof kv>) =>
      t.store.eventsSince({ key: '', prefix: true }, 2, false, 9).events.map((e) => e.kv.key);
    assert.deepEqual(keys(b), ['z', 'a', 'm']);
    assert.deepEqual(keys(b), keys(a));
  });

  it('onRestore fires after the state is replaced', async () => {
    const a = kv();
    a.put('k', 'v');
    const b = kv();
    let seen = -1;
    b.store.onRestore(() => (seen = b.store.revision));
    await b.store.restore(chunksOf(a.store.snapshot()));
    assert.equal(seen, 2);
  });

  it('rejects truncated or corrupt snapshots and keeps the old state', async () => {
    const a = kv();
    drive(a, 7, 200);
    const bytes = snapshotBytes(a.store);
    const b = kv();
    b.put('mine', '1');
    const before = snapshotBytes(b.store);
    for (const bad of [
      bytes.subarray(0, bytes.length - 3),
      bytes.subarray(0, bytes.length - 20),
      Buffer.from('nonsense!'),
    ]) {
      await assert.rejects(
        b.store.restore(chunksOf([bad])),
        (e: unknown) => (e as { code: string }).code === CoreErrorCode.DecodeFailed,
      );
      assert.deepEqual(snapshotBytes(b.store), before);
    }
  });

  it('property: any command stream restores to an identical store', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.integer({ min: 0, max: 150 }), async (seed, n) => {
        const a = kv();
        drive(a, seed, n);
        const b = await restored(a.store, 64);
        assert.deepEqual(snapshotBytes(b.store), snapshotBytes(a.store));
      }),
      { numRuns: 50 },
    );
  });

  it('property: a snapshot stream is the state when it was taken, whatever is applied while it is read', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1, max: 150 }),
        fc.integer({ min: 1, max: 150 }),
        fc.integer({ min: 0, max: 3 }),
        (seed, before, after, framesReadFirst) => {
          const a = kv();
          drive(a, seed, before);
          const expected = snapshotBytes(a.store);
          const stream = a.store.snapshotStream()[Symbol.iterator]();
          const frames: Uint8Array[] = [];
          // Read a few frames, then mutate (puts, deletes, compactions, revokes), then read the rest.
          for (let i = 0; i < framesReadFirst; i++) {
            const next = stream.next();
            if (next.done === true) break;
            frames.push(next.value);
          }
          drive(a, seed + 1, after);
          for (let next = stream.next(); next.done !== true; next = stream.next()) frames.push(next.value);
          assert.deepEqual(Buffer.concat(frames), expected, `seed ${seed}`);
        },
      ),
      { numRuns: 100 },
    );
  });
});
