/**
 * The two data structures behind Lowe's memoization: the set of operations linearized so far (a
 * bitset with an incrementally maintained hash) and the cache of (set, model state) pairs already
 * explored.
 */

/** murmur3's 32-bit finalizer: spreads consecutive integers over the whole hash space. */
export function mix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * The set of linearized operations, changed strictly last-in first-out as the search pushes and
 * pops operations, with operations indexed in invocation order.
 *
 * Besides the bitset it tracks `low` (the first index not in the set) and `high` (the largest
 * index in the set). Every index below `low` is in the set, so `low` plus the words from `low` to
 * `high` identify the set: a window as wide as the history's concurrency rather than its length.
 * That keeps each cache entry small, and copying one cheap, however long the history is. The hash
 * is the XOR of each member's mixed index, kept current in O(1) per push and pop.
 */
export class LinearizedSet {
  readonly #words: Int32Array;
  readonly #members: Int32Array;
  readonly #savedLow: Int32Array;
  readonly #savedHigh: Int32Array;
  #size = 0;
  hash = 0;
  low = 0;
  high = -1;

  constructor(capacity: number) {
    this.#words = new Int32Array(Math.ceil(capacity / 32) + 1);
    this.#members = new Int32Array(capacity);
    this.#savedLow = new Int32Array(capacity);
    this.#savedHigh = new Int32Array(capacity);
  }

  /** Add `index`, which must not be in the set. */
  push(index: number): void {
    this.#members[this.#size] = index;
    this.#savedLow[this.#size] = this.low;
    this.#savedHigh[this.#size] = this.high;
    this.#size++;
    this.#words[index >>> 5] = this.#words[index >>> 5]! | (1 << (index & 31));
    this.hash ^= mix32(index + 1);
    if (index > this.high) this.high = index;
    if (index === this.low) this.low = this.#firstAbsentFrom(index);
  }

  /** Remove the most recently pushed index. */
  pop(): void {
    this.#size--;
    const index = this.#members[this.#size]!;
    this.#words[index >>> 5] = this.#words[index >>> 5]! & ~(1 << (index & 31));
    this.hash ^= mix32(index + 1);
    this.low = this.#savedLow[this.#size]!;
    this.high = this.#savedHigh[this.#size]!;
  }

  wordAt(wordIndex: number): number {
    return this.#words[wordIndex]!;
  }

  has(index: number): boolean {
    return (this.#words[index >>> 5]! & (1 << (index & 31))) !== 0;
  }

  /** The words from `low`'s word to `high`'s (empty when nothing beyond `low` is in the set). */
  window(): number[] {
    const window: number[] = [];
    for (let word = this.low >>> 5; word <= this.high >> 5; word++) window.push(this.#words[word]!);
    return window;
  }

  #firstAbsentFrom(index: number): number {
    let at = index;
    for (;;) {
      // Bits of the current word from `at` on, inverted: the lowest one is the first absent index.
      const absent = ~this.#words[at >>> 5]! >>> (at & 31);
      if (absent !== 0) return at + (31 - Math.clz32(absent & -absent));
      at = (at | 31) + 1;
    }
  }
}

interface CacheEntry<State> {
  readonly low: number;
  /** Plain arrays of small integers: far lighter on the heap than a typed array per entry. */
  readonly window: readonly number[];
  readonly state: State;
  /** The next entry with the same hash. */
  readonly next: CacheEntry<State> | undefined;
}

/** Rough heap cost of one cache entry beyond its words: the entry, its array, the map slot. */
const entryOverheadBytes = 100;

/**
 * Configurations (linearized set, model state) that the search has already entered. Reaching
 * one again means the same remaining problem, already being or already explored, so the search
 * can skip it: this is what turns Wing & Gong's exponential backtracking into something that
 * finishes on real histories.
 */
export class StateCache<State> {
  readonly #buckets = new Map<number, CacheEntry<State>>();
  readonly #equal: (a: State, b: State) => boolean;
  readonly #hash: (state: State) => number;
  #bytes = 0;

  constructor(equal: (a: State, b: State) => boolean, hash: (state: State) => number) {
    this.#equal = equal;
    this.#hash = hash;
  }

  /** Approximate memory held by the cache. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Add the configuration; false when it was already present. */
  add(set: LinearizedSet, state: State): boolean {
    const key = set.hash ^ Math.imul(this.#hash(state) | 0, 0x9e3779b1);
    const first = this.#buckets.get(key);
    for (let entry = first; entry !== undefined; entry = entry.next) {
      if (entry.low === set.low && sameWindow(entry.window, set) && this.#equal(entry.state, state))
        return false;
    }
    const window = set.window();
    this.#buckets.set(key, { low: set.low, window, state, next: first });
    this.#bytes += 8 * window.length + entryOverheadBytes;
    return true;
  }
}

/** Whether `window` holds the same words as the set's current window, without copying it. */
function sameWindow(window: readonly number[], set: LinearizedSet): boolean {
  const firstWord = set.low >>> 5;
  if (window.length !== Math.max(0, (set.high >> 5) + 1 - firstWord)) return false;
  for (let i = 0; i < window.length; i++) {
    if (window[i] !== set.wordAt(firstWord + i)) return false;
  }
  return true;
}
