/**
 * Key order. etcd orders keys by their UTF-8 bytes, which is Unicode code point order. JavaScript's
 * `<` compares UTF-16 code units, which agrees with code point order except when a surrogate pair
 * (a code point above U+FFFF) meets a code unit in U+E000..U+FFFF at the first difference. So the
 * fast native comparison is exact unless a surrogate is involved, and callers check for that once
 * per new key instead of paying a character loop on every comparison.
 */

const SURROGATE = /[\uD800-\uDFFF]/;

/** True when `text` contains a UTF-16 surrogate, i.e. a code point above U+FFFF. */
export function hasSurrogate(text: string): boolean {
  return SURROGATE.test(text);
}

/** Negative, zero or positive as `a` sorts before, with or after `b` in UTF-16 code unit order. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Map a code unit so that numeric order equals code point order (surrogates above U+E000..U+FFFF). */
function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** Negative, zero or positive as `a` sorts before, with or after `b` in code point (UTF-8 byte) order. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** True when `text` fits in `maxBytes` UTF-8 bytes; cheap for short strings (≤ 3 bytes per code unit). */
export function fitsUtf8(text: string, maxBytes: number): boolean {
  return text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes;
}
