import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RecentRequests } from './command.ts';
import { unwrapSnapshot, wrapSnapshot } from './snapshot-envelope.ts';

function from(chunks: readonly Uint8Array[]): AsyncIterable<Uint8Array> {
  return (async function* () {
    await Promise.resolve();
    yield* chunks;
  })();
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** Re-cut a byte string at arbitrary points, as storage reads it back in its own chunk size. */
function recut(bytes: Buffer, sizes: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  for (const size of sizes) {
    if (offset >= bytes.byteLength) break;
    out.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  if (offset < bytes.byteLength) out.push(bytes.subarray(offset));
  return out;
}

test('snapshot envelope: header and user bytes survive any re-chunking', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.string({ maxLength: 20 }), { maxLength: 50 }),
      fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 17 }), { maxLength: 60 }),
      async (ids, user, sizes) => {
        const stored = await collect(wrapSnapshot({ recentRequests: ids }, from(user)));
        const { header, user: rest } = await unwrapSnapshot(from(recut(stored, sizes)));
        assert.deepEqual(header.recentRequests, ids);
        assert.deepEqual(await collect(rest), Buffer.concat(user));
      },
    ),
    { numRuns: 300 },
  );
});

test('snapshot envelope: a snapshot without one is all user data; a truncated header is refused', async () => {
  const legacy = Buffer.from('plain user snapshot bytes');
  const { header, user } = await unwrapSnapshot(from([legacy]));
  assert.deepEqual(header.recentRequests, []);
  assert.deepEqual(await collect(user), legacy);
  const stored = await collect(wrapSnapshot({ recentRequests: ['a', 'b'] }, from([legacy])));
  await assert.rejects(unwrapSnapshot(from([stored.subarray(0, 10)])), { code: 'SKEIN_SNAPSHOT_CORRUPT' });
});

test('RecentRequests: toArray/load keep the window and its order, so duplicates are judged alike', () => {
  const a = new RecentRequests(3);
  for (const id of ['r1', 'r2', 'r3', 'r4']) a.add(id);
  assert.deepEqual(a.toArray(), ['r2', 'r3', 'r4']);
  const b = new RecentRequests(3);
  b.load(a.toArray());
  for (const id of ['r3', 'r5', 'r2', 'r1']) assert.equal(b.add(id), a.add(id), id);
});
