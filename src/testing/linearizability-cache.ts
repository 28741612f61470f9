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
 * A set of operation indexes in `[0, size)`. Its hash is the XOR of each member's mixed index,
 * so `add` and `delete` keep it current in O(1) instead of rehashing the words on every lookup.
 */
export class LinearizedSet {
  readonly words: Uint32Array;
  hash = 0;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  add(index: number): void {
    const word = index >>> 5;
    const bit = 1 << (index & 31);
    if ((this.words[word]! & bit) !== 0) return;
    this.words[word] = this.words[word]! | bit;
    this.hash ^= mix32(index + 1);
  }

  delete(index: number): void {
    const word = index >>> 5;
    const bit = 1 << (index & 31);
    if ((this.words[word]! & bit) === 0) return;
    this.words[word] = this.words[word]! & ~bit;
    this.hash ^= mix32(index + 1);
  }

  has(index: number): boolean {
    return (this.words[index >>> 5]! & (1 << (index & 31))) !== 0;
  }
}

interface CacheEntry<State> {
  readonly words: Uint32Array;
  readonly state: State;
}

/** Rough heap cost of one cache entry beyond its words: the object, the typed array, the bucket slot. */
const entryOverheadBytes = 120;

/**
 * Configurations (linearized set, model state) that the search has already entered. Reaching
 * one again means the same remaining problem, already being or already explored, so the search
 * can skip it: this is what turns Wing & Gong's exponential backtracking into something that
 * finishes on real histories.
 */
export class StateCache<State> {
  readonly #buckets = new Map<number, CacheEntry<State>[]>();
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
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.#buckets.set(key, bucket);
    } else {
      for (const entry of bucket) {
        if (sameWords(entry.words, set.words) && this.#equal(entry.state, state)) return false;
      }
    }
    bucket.push({ words: set.words.slice(), state });
    this.#bytes += set.words.byteLength + entryOverheadBytes;
    return true;
  }
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
