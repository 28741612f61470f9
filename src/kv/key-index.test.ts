import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { KeyIndex, type History } from './key-index.ts';
import { compareCodePoints } from './key-order.ts';
import { kv } from './test-helpers.ts';

const history = (key: string): History => [
  { key, value: '', createRevision: 1, modRevision: 1, version: 1, lease: 0 },
];
const keysOf = (index: KeyIndex): string[] => [...index].map((h) => h[0]!.key);

function scanFrom(index: KeyIndex, start: string, max: number): string[] {
  const out: string[] = [];
  index.scan(start, (h) => {
    out.push(h[0]!.key);
    return out.length < max;
  });
  return out;
}

// Characters around the places where UTF-16 and code point order disagree, plus plain ASCII.
const char = fc.constantFrom(
  'a',
  'b',
  'z',
  '/',
  '\0',
  '\uD7FF',
  '\uE000',
  '\uFF21',
  '\u{1F600}',
  '\u{10FFFF}',
);
const keyArb = fc.array(char, { minLength: 1, maxLength: 4 }).map((cs) => cs.join(''));

describe('KeyIndex', () => {
  it('keeps any insertion order sorted by code point, across many block splits', () => {
    fc.assert(
      fc.property(fc.uniqueArray(keyArb, { maxLength: 3000 }), keyArb, (keys, start) => {
        const index = new KeyIndex();
        for (const k of keys) index.insert(history(k));
        const sorted = [...keys].sort(compareCodePoints);
        assert.equal(index.size, keys.length);
        assert.deepEqual(keysOf(index), sorted);
        const from = sorted.filter((k) => compareCodePoints(k, start) >= 0);
        assert.deepEqual(scanFrom(index, start, 700), from.slice(0, 700));
        assert.deepEqual(keysOf(KeyIndex.fromSorted(sorted.map(history))), sorted);
      }),
      { numRuns: 40 },
    );
  });

  it('ascending and descending bulk inserts of 20k keys stay ordered', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${String(i).padStart(6, '0')}`);
    for (const order of [keys, [...keys].reverse()]) {
      const index = new KeyIndex();
      for (const k of order) index.insert(history(k));
      assert.deepEqual(keysOf(index), keys);
      assert.deepEqual(scanFrom(index, 'k010000', 3), ['k010000', 'k010001', 'k010002']);
      assert.deepEqual(scanFrom(index, 'k1', 3), []);
    }
  });

  it('store ranges over thousands of keys cross blocks correctly', () => {
    const { store, put, del, compact } = kv();
    for (let i = 0; i < 3000; i++) put(`p/${String((i * 7919) % 3000).padStart(4, '0')}`, `${i}`);
    put('q', 'x');
    const r = store.range({ key: 'p/', prefix: true, limit: 1000 });
    assert.deepEqual([r.count, r.kvs.length, r.more, r.kvs[999]?.key], [3000, 1000, true, 'p/0999']);
    del({ key: 'p/1000', rangeEnd: 'p/2000' });
    compact(store.revision); // drops the 1000 deleted keys from the index
    assert.equal(store.range({ key: 'p/', prefix: true, countOnly: true }).count, 2000);
    assert.deepEqual(
      store.range({ key: 'p/0998', rangeEnd: 'p/2002' }).kvs.map((x) => x.key),
      ['p/0998', 'p/0999', 'p/2000', 'p/2001'],
    );
    put('p/1500', 'back');
    assert.equal(store.range({ key: 'p/1500' }).kvs[0]?.version, 1);
  });
});
