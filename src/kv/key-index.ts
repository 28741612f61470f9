import { compareCodePoints, compareCodeUnits, hasSurrogate } from './key-order.ts';
import type { KeyValue } from './types.ts';

/** A key's versions, oldest first. Never empty while indexed, so its key is `history[0].key`. */
export type History = KeyValue[];

/**
 * Keys are never removed one by one: a key keeps its history after a delete, and compaction, which
 * is what drops keys, rebuilds the index in one pass (fromSorted).
 *
 * Blocks hold at most this many keys. Inserting shifts at most one block (a few hundred pointers)
 * and splitting shifts the block list (n / 256 entries), so a new key in a 1M-key index stays cheap.
 */
const MAX_BLOCK_KEYS = 512;

const keyOf = (history: History): string => history[0]!.key;

/**
 * The key histories in key order (code point order = etcd's byte order): a list of sorted blocks,
 * each found by binary search over the blocks' last keys. O(log n) search, cheap inserts, and scans
 * from any key in O(log n + k) that hand out the histories themselves (no map lookup per key).
 * Simpler than a B-tree with the same bounds at our sizes; bench/kv-store.ts measures it.
 */
export class KeyIndex {
  #blocks: History[][] = [];
  #size = 0;
  /** Native comparison until a key with a surrogate arrives (see key-order.ts). */
  #compare: (a: string, b: string) => number = compareCodeUnits;

  /** Build from histories already in key order, without duplicates (snapshot restore, compaction). */
  static fromSorted(histories: readonly History[]): KeyIndex {
    const index = new KeyIndex();
    const half = MAX_BLOCK_KEYS / 2;
    for (let i = 0; i < histories.length; i += half) index.#blocks.push(histories.slice(i, i + half));
    index.#size = histories.length;
    if (histories.some((h) => hasSurrogate(keyOf(h)))) index.#compare = compareCodePoints;
    return index;
  }

  get size(): number {
    return this.#size;
  }

  /** Add a history whose key is not indexed yet. */
  insert(history: History): void {
    const key = keyOf(history);
    if (this.#compare === compareCodeUnits && hasSurrogate(key)) this.#compare = compareCodePoints;
    const blocks = this.#blocks;
    this.#size++;
    if (blocks.length === 0) {
      blocks.push([history]);
      return;
    }
    const compare = this.#compare;
    const b = Math.min(this.#blockFor(key, compare), blocks.length - 1);
    const block = blocks[b]!;
    block.splice(lowerBound(block, key, compare), 0, history);
    if (block.length > MAX_BLOCK_KEYS) blocks.splice(b + 1, 0, block.splice(MAX_BLOCK_KEYS / 2));
  }

  /** Visit histories with key ≥ `start` in key order until `visit` returns false. `visit` must not insert or delete. */
  scan(start: string, visit: (history: History) => boolean): void {
    const compare = this.compareFor(start);
    const blocks = this.#blocks;
    let b = this.#blockFor(start, compare);
    if (b >= blocks.length) return;
    let i = lowerBound(blocks[b]!, start, compare);
    for (; b < blocks.length; b++, i = 0) {
      const block = blocks[b]!;
      for (; i < block.length; i++) if (!visit(block[i]!)) return;
    }
  }

  /** Every history in key order. */
  *[Symbol.iterator](): Iterator<History> {
    for (const block of this.#blocks) yield* block;
  }

  /** The comparison that is exact for `key` against the indexed keys. */
  compareFor(key: string): (a: string, b: string) => number {
    return this.#compare === compareCodeUnits && hasSurrogate(key) ? compareCodePoints : this.#compare;
  }

  /** Index of the first block whose last key is ≥ `key` (blocks.length when none). */
  #blockFor(key: string, compare: (a: string, b: string) => number): number {
    const blocks = this.#blocks;
    let lo = 0;
    let hi = blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = blocks[mid]!;
      if (compare(keyOf(block[block.length - 1]!), key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Index of the first history in `block` whose key is ≥ `key`. */
function lowerBound(
  block: readonly History[],
  key: string,
  compare: (a: string, b: string) => number,
): number {
  let lo = 0;
  let hi = block.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(keyOf(block[mid]!), key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
