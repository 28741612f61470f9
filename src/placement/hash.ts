/**
 * The hash every placement strategy is built on: XXH32 (xxHash, 32-bit variant, by Yann Collet),
 * bit-exact with the reference implementation, so a Go or Python program can compute the same
 * owners. XXH32 uses only 32-bit multiplies and rotates, which JavaScript does natively with
 * `Math.imul`; a 64-bit hash would need BigInt or 16-bit limbs and is several times slower.
 *
 * Strings are hashed as their UTF-8 bytes. {@link xxh32String} encodes into a reusable scratch
 * buffer instead of allocating through TextEncoder on every call; a lone surrogate (which has no
 * UTF-8 form) becomes U+FFFD, exactly as TextEncoder does. Other languages hash the key's UTF-8 bytes.
 */

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

/** Scratch for UTF-8 encoding; grows to the longest key seen (3 bytes per UTF-16 code unit at most). */
let scratch = new Uint8Array(256);

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, PRIME2)) | 0, 13), PRIME1);
}

function readU32(bytes: Uint8Array, i: number): number {
  return bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
}

/**
 * XXH32 of `bytes[0..length)` with a 32-bit `seed`; returns an unsigned 32-bit integer.
 * Reference: https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md
 */
export function xxh32(bytes: Uint8Array, seed = 0, length = bytes.length): number {
  if (!Number.isInteger(length) || length < 0 || length > bytes.length) {
    throw new RangeError(`xxh32: length ${length} is outside the ${bytes.length} bytes given`);
  }
  return hashBytes(bytes, seed, length) >>> 0;
}

/**
 * XXH32 with its 32 bits returned as a signed int32. The lookup paths use these forms: an int32
 * stays a small integer in V8, while an unsigned result of 2^31 or more is a heap-allocated
 * double whenever it crosses a function boundary — an allocation on every other lookup.
 */
export function hashBytes(bytes: Uint8Array, seed: number, length: number): number {
  let i = 0;
  let h: number;
  if (length >= 16) {
    let v1 = (seed + PRIME1 + PRIME2) | 0;
    let v2 = (seed + PRIME2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - PRIME1) | 0;
    const limit = length - 16;
    while (i <= limit) {
      v1 = round(v1, readU32(bytes, i));
      v2 = round(v2, readU32(bytes, i + 4));
      v3 = round(v3, readU32(bytes, i + 8));
      v4 = round(v4, readU32(bytes, i + 12));
      i += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + PRIME5) | 0;
  }
  h = (h + length) | 0;
  while (i + 4 <= length) {
    h = Math.imul(rotl((h + Math.imul(readU32(bytes, i), PRIME3)) | 0, 17), PRIME4);
    i += 4;
  }
  while (i < length) {
    h = Math.imul(rotl((h + Math.imul(bytes[i]!, PRIME5)) | 0, 11), PRIME1);
    i++;
  }
  return avalanche(h);
}

/** The final mix; returns the 32 bits as a signed int32. */
function avalanche(h: number): number {
  h = Math.imul(h ^ (h >>> 15), PRIME2);
  h = Math.imul(h ^ (h >>> 13), PRIME3);
  return h ^ (h >>> 16);
}

/**
 * Writes the UTF-8 encoding of `text` into the scratch buffer and returns its length in bytes.
 * Same bytes as `new TextEncoder().encode(text)`, without the allocation.
 */
function encodeUtf8(text: string): number {
  const units = text.length;
  if (scratch.length < units * 3) scratch = new Uint8Array(Math.max(units * 3, scratch.length * 2));
  const out = scratch;
  let n = 0;
  for (let i = 0; i < units; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >>> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < units ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          out[n++] = 0xf0 | (cp >>> 18);
          out[n++] = 0x80 | ((cp >>> 12) & 0x3f);
          out[n++] = 0x80 | ((cp >>> 6) & 0x3f);
          out[n++] = 0x80 | (cp & 0x3f);
          i++;
          continue;
        }
        c = 0xfffd; // a lone surrogate has no UTF-8 form; TextEncoder substitutes U+FFFD too
      }
      out[n++] = 0xe0 | (c >>> 12);
      out[n++] = 0x80 | ((c >>> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return n;
}

/** XXH32 of the UTF-8 bytes of `text`, without allocating. Equal to `xxh32(utf8(text), seed)`. */
export function xxh32String(text: string, seed = 0): number {
  return hashString(text, seed) >>> 0;
}

/** {@link xxh32String} as a signed int32 (see {@link hashBytes}). */
export function hashString(text: string, seed: number): number {
  wideChars = 0;
  const h = xxh32Ascii(text, seed, text.length);
  if (wideChars < 0x80) return h;
  // A char code >= 0x80 means the UTF-8 bytes differ from the char codes: encode, then hash.
  // (Encode first: it may replace `scratch` with a larger buffer.)
  const length = encodeUtf8(text);
  return hashBytes(scratch, seed, length);
}

/** OR of every char code read by {@link charWord} since the last reset. */
let wideChars = 0;

function charWord(text: string, i: number): number {
  const c0 = text.charCodeAt(i);
  const c1 = text.charCodeAt(i + 1);
  const c2 = text.charCodeAt(i + 2);
  const c3 = text.charCodeAt(i + 3);
  wideChars |= c0 | c1 | c2 | c3;
  return c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
}

/**
 * {@link xxh32} over the char codes of `text`, which are its UTF-8 bytes when it is ASCII (the common
 * case for keys): hashed straight from the string, without copying it into a byte buffer first.
 * The caller checks `wideChars` afterwards and falls back to encoding when the text is not ASCII.
 */
function xxh32Ascii(text: string, seed: number, length: number): number {
  let i = 0;
  let h: number;
  if (length >= 16) {
    let v1 = (seed + PRIME1 + PRIME2) | 0;
    let v2 = (seed + PRIME2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - PRIME1) | 0;
    const limit = length - 16;
    while (i <= limit) {
      v1 = round(v1, charWord(text, i));
      v2 = round(v2, charWord(text, i + 4));
      v3 = round(v3, charWord(text, i + 8));
      v4 = round(v4, charWord(text, i + 12));
      i += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + PRIME5) | 0;
  }
  h = (h + length) | 0;
  while (i + 4 <= length) {
    h = Math.imul(rotl((h + Math.imul(charWord(text, i), PRIME3)) | 0, 17), PRIME4);
    i += 4;
  }
  while (i < length) {
    const c = text.charCodeAt(i);
    wideChars |= c;
    h = Math.imul(rotl((h + Math.imul(c, PRIME5)) | 0, 11), PRIME1);
    i++;
  }
  return avalanche(h);
}

/** The UTF-8 bytes of `text` (a fresh copy); used where bytes must be compared, not hashed. */
export function utf8Bytes(text: string): Uint8Array {
  const length = encodeUtf8(text);
  return scratch.slice(0, length);
}

/**
 * XXH32 of the 4-byte little-endian encoding of `value` (an unsigned 32-bit integer). This is the
 * short-input path of {@link xxh32} inlined, used to derive ring points and partition positions.
 */
export function xxh32U32(value: number, seed = 0): number {
  let h = (seed + PRIME5 + 4) | 0;
  h = Math.imul(rotl((h + Math.imul(value, PRIME3)) | 0, 17), PRIME4);
  return avalanche(h) >>> 0;
}

/**
 * XXH32 of the 8 bytes `le32(a) ‖ le32(b)` with seed 0, as a signed int32: the rendezvous score of
 * a key hash `a` against a node hash `b`. Both words go through a full round, so neither can
 * cancel the other.
 */
export function xxh32Pair(a: number, b: number): number {
  let h = (PRIME5 + 8) | 0;
  h = Math.imul(rotl((h + Math.imul(a, PRIME3)) | 0, 17), PRIME4);
  h = Math.imul(rotl((h + Math.imul(b, PRIME3)) | 0, 17), PRIME4);
  return avalanche(h);
}
