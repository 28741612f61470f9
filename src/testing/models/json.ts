/** A JSON value: what the register and key-value models store. `null` also means "absent". */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Structural equality of JSON values (object key order does not matter). */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return false;
    const arrA = a as readonly JsonValue[];
    const arrB = b as readonly JsonValue[];
    return arrA.length === arrB.length && arrA.every((item, i) => jsonEqual(item, arrB[i]!));
  }
  const objA = a as { readonly [key: string]: JsonValue };
  const objB = b as { readonly [key: string]: JsonValue };
  const keys = Object.keys(objA);
  if (keys.length !== Object.keys(objB).length) return false;
  return keys.every((key) => Object.hasOwn(objB, key) && jsonEqual(objA[key]!, objB[key]!));
}

/** A 32-bit hash consistent with {@link jsonEqual}. */
export function jsonHash(value: JsonValue): number {
  if (typeof value === 'string') return fnv1a(value, 0x811c9dc5);
  if (typeof value === 'number') return fnv1a(String(value), 0x01000193);
  if (typeof value !== 'object' || value === null) return value === null ? 0x5bd1e995 : value ? 1 : 2;
  return fnv1a(canonical(value), 0x9747b28c);
}

/** Compact JSON with object keys sorted, for hashing and for reports. */
export function canonical(value: JsonValue): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: JsonValue) => canonical(item)).join(',')}]`;
  const obj = value as { readonly [key: string]: JsonValue };
  const keys = Object.keys(obj).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(obj[key]!)}`).join(',')}}`;
}

function fnv1a(text: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}
