/**
 * Jump consistent hash (Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm",
 * 2014), bit-exact with the paper's C++ reference for 64-bit keys. The 64-bit linear congruential
 * step is done on two 32-bit halves, because BigInt arithmetic is an order of magnitude slower.
 */

/** 2862933555777941757, the paper's LCG multiplier, split into 32-bit halves. */
const MUL_HI = 0x27bb2ee6;
const MUL_LO = 0x87b0b0fd;

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers. */
function mulHigh32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

/**
 * The bucket in `[0, buckets)` for the 64-bit key `keyHigh:keyLow` (two unsigned 32-bit halves).
 * Growing `buckets` by one moves exactly the keys that land in the new bucket, 1/(n+1) of them.
 */
export function jumpHash(keyHigh: number, keyLow: number, buckets: number): number {
  let hi = keyHigh >>> 0;
  let lo = keyLow >>> 0;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // key = key * 2862933555777941757 + 1 (mod 2^64)
    const productLow = Math.imul(lo, MUL_LO) >>> 0;
    const productHigh = (mulHigh32(lo, MUL_LO) + Math.imul(hi, MUL_LO) + Math.imul(lo, MUL_HI)) >>> 0;
    lo = (productLow + 1) >>> 0;
    hi = lo === 0 ? (productHigh + 1) >>> 0 : productHigh;
    // j = (b + 1) * (double(1 << 31) / double((key >> 33) + 1)), as in the reference
    j = Math.floor((b + 1) * (2147483648 / ((hi >>> 1) + 1)));
  }
  return b;
}
