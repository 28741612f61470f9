import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { xxh32String } from '../placement/index.ts';
import { ownerIndex, owns } from './hash.ts';

/** Jump hash written from the paper with BigInt, independently of skein/placement's 32-bit halves. */
function referenceJump(key: bigint, buckets: number): number {
  let b = -1n;
  let j = 0n;
  const mask = (1n << 64n) - 1n;
  while (j < BigInt(buckets)) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & mask;
    j = BigInt(Math.floor(Number(b + 1n) * (2147483648 / Number((key >> 33n) + 1n))));
  }
  return Number(b);
}

/** The vectors published in docs/membership.md: key → ownerIndex for totals 1, 2, 3, 5, 10, 100, 1000. */
const TOTALS = [1, 2, 3, 5, 10, 100, 1000];
const VECTORS: [string, number[]][] = [
  ['', [1, 2, 3, 4, 4, 48, 742]],
  ['a', [1, 1, 1, 1, 1, 54, 663]],
  ['abc', [1, 2, 2, 5, 5, 14, 222]],
  ['user:42', [1, 1, 3, 5, 6, 79, 161]],
  ['order-1001', [1, 2, 3, 4, 4, 51, 959]],
  ['你好', [1, 2, 2, 2, 10, 10, 958]],
  ['The quick brown fox jumps over the lazy dog', [1, 2, 3, 3, 3, 23, 401]],
];

describe('ownerIndex', () => {
  it('matches the published vectors', () => {
    for (const [key, expected] of VECTORS) {
      assert.deepEqual(
        TOTALS.map((t) => ownerIndex(key, t)),
        expected,
        `key ${JSON.stringify(key)}`,
      );
    }
  });

  it('is XXH32 seed 0 followed by an independent BigInt jump hash, plus one', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.integer({ min: 1, max: 5000 }), (key, total) => {
        assert.equal(ownerIndex(key, total), referenceJump(BigInt(xxh32String(key, 0)), total) + 1);
      }),
      { numRuns: 300 },
    );
  });

  it('stays in 1..total, and growing the group only moves keys to the new last index', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 200 }), (key, total) => {
        const now = ownerIndex(key, total);
        assert.ok(now >= 1 && now <= total);
        const grown = ownerIndex(key, total + 1);
        assert.ok(grown === now || grown === total + 1);
        assert.ok(owns(now, total, key));
      }),
      { numRuns: 500 },
    );
  });

  it('spreads keys evenly', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 40_000; i++) counts[ownerIndex(`key-${i}`, 8) - 1]!++;
    for (const c of counts) assert.ok(c > 4_500 && c < 5_500, `bucket count ${c} is far from 5000`);
  });

  it('rejects a total that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      assert.throws(() => ownerIndex('k', bad), { code: 'SKEIN_INVALID_ARGUMENT' });
    }
  });
});
