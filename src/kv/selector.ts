import { compareCodePoints } from './key-order.ts';
import type { KeySelector } from './types.ts';

/** etcd's "to the end of the keyspace" range end. */
export const RANGE_END_ALL = '\0';

/** True when `selector` selects `key` (code point order, as etcd's byte order). */
export function selects(selector: KeySelector, key: string): boolean {
  if (selector.prefix === true) return key.startsWith(selector.key);
  const end = selector.rangeEnd;
  if (end === undefined) return key === selector.key;
  if (compareCodePoints(key, selector.key) < 0) return false;
  return end === RANGE_END_ALL || compareCodePoints(key, end) < 0;
}

/** True when the selector names one key, not a range. */
export function isSingleKey(selector: KeySelector): boolean {
  return selector.prefix !== true && selector.rangeEnd === undefined;
}
