import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c } from './crc32c.ts';
import { Random } from './random.ts';
import { VirtualClock } from './clock.ts';
import { MinHeap } from './heap.ts';
import { inTimeSlices } from './time-slices.ts';
import { decode, encode } from './codec.ts';
import { CoreErrorCode, SkeinError, hasCode } from './errors.ts';

test('crc32c matches the standard check value and streams', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
      const at = bytes.length === 0 ? 0 : cut % bytes.length;
      assert.equal(crc32c(bytes.subarray(at), crc32c(bytes.subarray(0, at))), crc32c(bytes));
    }),
  );
});

test('Random is deterministic in its seed and stays in range', () => {
  const a = new Random(42);
  const b = new Random(42);
  for (let i = 0; i < 1000; i++) assert.equal(a.nextUint32(), b.nextUint32());
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 1, max: 1_000_000 }), (seed, n) => {
      const r = new Random(seed);
      for (let i = 0; i < 20; i++) {
        const x = r.int(n);
        assert.ok(x >= 0 && x < n && Number.isInteger(x));
      }
    }),
  );
  assert.notEqual(new Random(1).nextUint32(), new Random(2).nextUint32());
});

test('VirtualClock fires timers in due order, ties in set order, and skips cancelled ones', () => {
  const clock = new VirtualClock();
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('b'), 10);
  clock.setTimeout(() => fired.push('a'), 5);
  const c = clock.setTimeout(() => fired.push('c'), 7);
  clock.setTimeout(() => fired.push('b2'), 10);
  clock.clearTimeout(c);
  clock.advance(9);
  assert.deepEqual(fired, ['a']);
  assert.equal(clock.now(), 9);
  clock.advance(1);
  assert.deepEqual(fired, ['a', 'b', 'b2']);
});

test('MinHeap pops in sorted order', () => {
  fc.assert(
    fc.property(fc.array(fc.integer()), (xs) => {
      const heap = new MinHeap<number>((a, b) => a < b);
      for (const x of xs) heap.push(x);
      const out: number[] = [];
      while (heap.size > 0) out.push(heap.pop()!);
      assert.deepEqual(
        out,
        [...xs].sort((a, b) => a - b),
      );
    }),
  );
});

test('codec round-trips values and reports garbage with a stable code', () => {
  const value = { type: 'append', term: 3, entries: [{ index: 1, data: new Uint8Array([1, 2, 3]) }] };
  const back = decode(encode(value)) as typeof value;
  assert.deepEqual(back.entries[0]!.data, Buffer.from([1, 2, 3]));
  assert.deepEqual({ ...back, entries: [] }, { ...value, entries: [] });
  assert.throws(
    () => decode(new Uint8Array([0x92, 0x01])),
    (e: unknown) => hasCode(e, CoreErrorCode.DecodeFailed),
  );
  assert.throws(
    () => decode(new Uint8Array([0xc1])),
    (e: unknown) => hasCode(e, CoreErrorCode.DecodeFailed),
  );
  const e = new SkeinError('SKEIN_X', 'msg', { details: { a: 1 } });
  assert.deepEqual(e.toJSON(), { code: 'SKEIN_X', message: 'msg', details: { a: 1 } });
});

test('inTimeSlices hands out every item in order, pausing once per slice of work', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 30 }), async (costsMs) => {
      const clock = new VirtualClock();
      let pauses = 0;
      // Each item "costs" its value in virtual milliseconds when it is produced.
      function* work(): Generator<number> {
        for (const [i, ms] of costsMs.entries()) {
          clock.advance(ms);
          yield i;
        }
      }
      const defer = (fn: () => void): void => {
        pauses++;
        queueMicrotask(fn);
      };
      const seen: number[] = [];
      for await (const i of inTimeSlices(work(), { sliceMs: 4, clock, defer })) seen.push(i);
      assert.deepEqual(
        seen,
        costsMs.map((_, i) => i),
        'every item, in order',
      );
      let expected = 0;
      let slice = 0;
      for (const ms of costsMs) {
        slice += ms;
        if (slice >= 4) {
          expected++;
          slice = 0;
        }
      }
      assert.equal(pauses, expected, `pauses for costs ${JSON.stringify(costsMs)}`);
    }),
  );
});
