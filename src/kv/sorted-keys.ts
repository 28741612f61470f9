import { compareCodePoints, compareCodeUnits, hasSurrogate } from './key-order.ts';

/**
 * Blocks hold at most this many keys. Inserting shifts at most one block (a few hundred pointers)
 * and splitting shifts the block list (n / 256 entries), so a new key in a 1M-key set stays cheap.
 */
const MAX_BLOCK_KEYS = 512;
/** A block this small is merged into its neighbour when that keeps the result at most half full. */
const MERGE_BELOW_KEYS = MAX_BLOCK_KEYS / 8;

/**
 * An ordered set of string keys in code point order (= etcd's byte order): a list of sorted
 * blocks, each found by binary search over the blocks' last keys. O(log n) lookup, O(√-ish) cheap
 * inserts, and in-order scans from any key in O(log n + k). Simpler than a B-tree with the same
 * asymptotics for our sizes; see bench/kv-store.ts.
 */
export class SortedKeys {
  #blocks: string[][] = [];
  #size = 0;
  /** Native comparison until a key with a surrogate arrives (see key-order.ts). */
  #compare: (a: string, b: string) => number = compareCodeUnits;

  /** Build from keys already in code point order without duplicates (snapshot restore, compaction). */
  static fromSorted(keys: readonly string[]): SortedKeys {
    const set = new SortedKeys();
    const half = MAX_BLOCK_KEYS / 2;
    for (let i = 0; i < keys.length; i += half) set.#blocks.push(keys.slice(i, i + half));
    set.#size = keys.length;
    if (keys.some(hasSurrogate)) set.#compare = compareCodePoints;
    return set;
  }

  get size(): number {
    return this.#size;
  }

  /** Add `key`, which must not be present. */
  insert(key: string): void {
    if (this.#compare === compareCodeUnits && hasSurrogate(key)) this.#compare = compareCodePoints;
    const blocks = this.#blocks;
    this.#size++;
    if (blocks.length === 0) {
      blocks.push([key]);
      return;
    }
    const compare = this.#compare;
    const b = Math.min(this.#blockFor(key, compare), blocks.length - 1);
    const block = blocks[b]!;
    block.splice(lowerBound(block, key, compare), 0, key);
    if (block.length > MAX_BLOCK_KEYS) blocks.splice(b + 1, 0, block.splice(MAX_BLOCK_KEYS / 2));
  }

  /** Remove `key`; returns whether it was present. */
  delete(key: string): boolean {
    const compare = this.#comparatorFor(key);
    const blocks = this.#blocks;
    const b = this.#blockFor(key, compare);
    const block = blocks[b];
    if (block === undefined) return false;
    const i = lowerBound(block, key, compare);
    if (block[i] !== key) return false;
    block.splice(i, 1);
    this.#size--;
    if (block.length === 0) blocks.splice(b, 1);
    else if (block.length < MERGE_BELOW_KEYS) this.#mergeWithNext(b);
    return true;
  }

  /**
   * Visit keys ≥ `start` in order until `visit` returns false. `visit` must not modify the set.
   */
  scan(start: string, visit: (key: string) => boolean): void {
    const compare = this.#comparatorFor(start);
    const blocks = this.#blocks;
    let b = this.#blockFor(start, compare);
    if (b >= blocks.length) return;
    let i = lowerBound(blocks[b]!, start, compare);
    for (; b < blocks.length; b++, i = 0) {
      const block = blocks[b]!;
      for (; i < block.length; i++) if (!visit(block[i]!)) return;
    }
  }

  /** Every key in order. */
  *[Symbol.iterator](): Iterator<string> {
    for (const block of this.#blocks) yield* block;
  }

  /** The comparison that is exact for `key` against the stored keys. */
  compareFor(key: string): (a: string, b: string) => number {
    return this.#comparatorFor(key);
  }

  #comparatorFor(key: string): (a: string, b: string) => number {
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
      if (compare(block[block.length - 1]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #mergeWithNext(b: number): void {
    const blocks = this.#blocks;
    const block = blocks[b]!;
    const next = blocks[b + 1];
    if (next !== undefined && block.length + next.length <= MAX_BLOCK_KEYS / 2) {
      blocks[b] = block.concat(next);
      blocks.splice(b + 1, 1);
    }
  }
}

/** Index of the first element of sorted `keys` that is ≥ `key`. */
function lowerBound(keys: readonly string[], key: string, compare: (a: string, b: string) => number): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(keys[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
