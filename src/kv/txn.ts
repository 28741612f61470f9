import { compareCodePoints } from './key-order.ts';
import { latest } from './state.ts';
import type { Compare, KeyValue } from './types.ts';

/**
 * Whether a txn compare holds against a key's history (undefined: never written). A missing or
 * deleted key compares as value '', version 0, createRevision 0, modRevision 0, lease 0. Values
 * compare in code point order, which is etcd's byte order.
 */
export function evaluateCompare(compare: Compare, versions: readonly KeyValue[] | undefined): boolean {
  const kv = versions === undefined ? undefined : latest(versions);
  let order: number;
  if (compare.target === 'value') {
    order = compareCodePoints(kv?.value ?? '', compare.value as string);
  } else {
    const actual = kv === undefined ? 0 : kv[compare.target];
    order = actual - (compare.value as number);
  }
  switch (compare.op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
  }
}
