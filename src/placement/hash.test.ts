import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { utf8Bytes, xxh32, xxh32Pair, xxh32String, xxh32U32 } from './hash.ts';
import { jumpHash } from './jump.ts';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

// Published XXH32 answers: the reference xxhsum sanity check (its generated 101-byte buffer) and
// vectors repeated across independent ports (Go lz4, .NET, Python xxhash).
test('xxh32 matches the published known answers', () => {
  const vectors: [string, number, number][] = [
    ['', 0, 0x02cc5d05],
    ['', 1, 0x0b2cb792],
    ['', 0x9e3779b1, 0x36b78ae7],
    ['a', 0, 0x550d7456],
    ['ab', 0, 0x4999fc53],
    ['abc', 0, 0x32d153ff],
    ['abcd', 0, 0xa3643705],
    ['abcde', 0, 0x9738f19b],
    ['abcdefgh', 0, 0x0bb3c6bb],
    ['abcdefghij', 0, 0x8b988cfe],
    ['abcdefghijklmnop', 0, 0x9d2d8b62],
    ['abcdefghijklmnopqrstuvwxyz0123456789', 0, 0x42ae804d],
    ['Nobody inspects the spammish repetition', 0, 0xe2293b2f],
    ['Nobody inspects the spammish repetition', 123, 0xfa7f6052],
    ['The quick brown fox jumps over the lazy dog', 0, 0xe85ea4de],
    ['\u4f60\u597d', 0, 0x6c96a25e],
  ];
  for (const [text, seed, expected] of vectors) {
    assert.equal(xxh32(utf8(text), seed), expected, `xxh32(${JSON.stringify(text)}, ${seed})`);
    assert.equal(xxh32String(text, seed), expected, `xxh32String(${JSON.stringify(text)}, ${seed})`);
  }
});

test('xxh32 matches the reference sanity buffer of xxhsum', () => {
  // The buffer xxhsum's self-test builds: byte i = top byte of PRIME32_1^(2^i) mod 2^32.
  const data = new Uint8Array(101);
  let generator = 0x9e3779b1;
  for (let i = 0; i < data.length; i++) {
    data[i] = generator >>> 24;
    generator = Math.imul(generator, generator) >>> 0;
  }
  const prime = 0x9e3779b1;
  assert.equal(xxh32(data, 0, 1), 0xb85cbee5);
  assert.equal(xxh32(data, prime, 1), 0xd5845d64);
  assert.equal(xxh32(data, 0, 14), 0xe5aa0ab4);
  assert.equal(xxh32(data, prime, 14), 0x4481951d);
  assert.equal(xxh32(data, 0), 0x1f1aa412);
  assert.equal(xxh32(data, prime), 0x498ec8e2);
});

test('xxh32String hashes exactly the UTF-8 bytes, lone surrogates included', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary', maxLength: 70 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (text, seed) => {
        const bytes = utf8(text); // TextEncoder maps a lone surrogate to U+FFFD
        assert.equal(xxh32String(text, seed), xxh32(bytes, seed));
        assert.deepEqual(utf8Bytes(text), bytes);
      },
    ),
    { numRuns: 500 },
  );
  // Longer than the initial scratch buffer, so encoding must grow it first.
  for (const text of ['é'.repeat(300), '🔑'.repeat(500), 'a'.repeat(1000) + '\u00ff', '\ud800'.repeat(400)]) {
    assert.equal(xxh32String(text, 7), xxh32(utf8(text), 7), `${text.length} code units`);
    assert.deepEqual(utf8Bytes(text), utf8(text));
  }
});

test('the short fixed-width forms equal xxh32 of their little-endian bytes', () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      (a, b, seed) => {
        const bytes = new Uint8Array(8);
        const view = new DataView(bytes.buffer);
        view.setUint32(0, a, true);
        view.setUint32(4, b, true);
        assert.equal(xxh32U32(a, seed), xxh32(bytes.subarray(0, 4), seed));
        assert.equal(xxh32Pair(a, b) >>> 0, xxh32(bytes, 0));
      },
    ),
    { numRuns: 300 },
  );
});

/** The paper's algorithm, with BigInt: slow, obviously right, the oracle for the 32-bit version. */
function jumpReference(key: bigint, buckets: number): number {
  let k = key;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & 0xffffffffffffffffn;
    j = Math.floor((b + 1) * (2147483648 / (Number(k >> 33n) + 1)));
  }
  return b;
}

const jump64 = (key: bigint, buckets: number): number =>
  jumpHash(Number(key >> 32n), Number(key & 0xffffffffn), buckets);

test('jumpHash matches published answers of the reference algorithm', () => {
  assert.equal(jump64(123456n, 1000), 984);
  assert.equal(jump64(256n, 1024), 520);
  assert.equal(jump64(10863919174838991n, 11), 6);
  assert.equal(jump64(2016238256797177309n, 11), 3);
  assert.equal(jump64(0xffffffffffffffffn, 1), 0);
});

test('jumpHash equals the BigInt reference on random 64-bit keys', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.integer({ min: 1, max: 100_000 }),
      (key, buckets) => {
        assert.equal(jump64(key, buckets), jumpReference(key, buckets));
      },
    ),
    { numRuns: 500 },
  );
});
