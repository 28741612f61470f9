import { utf8Bytes, xxh32, xxh32Pair } from './hash.ts';
import {
  checkCount,
  compareBytes,
  duplicateError,
  emptyError,
  hashKey,
  toMember,
  unknownError,
  type Member,
  type NodeSpec,
  type Placement,
  type PlacementKey,
} from './types.ts';

/** Options of {@link Rendezvous}. */
export interface RendezvousOptions {
  /** Seed of the key and node hashes (XXH32 seed). Default 0. */
  readonly seed?: number;
}

const SIGN_BIT = 0x80000000 | 0;

/** 2^32, to turn a 32-bit score into a uniform number in (0, 1). */
const TWO_POW_32 = 4294967296;

/**
 * Rendezvous or highest-random-weight hashing (Thaler & Ravishankar 1998): every node scores
 * the key, the highest score owns it, the next highest are its replicas.
 *
 * Score of node i for a key: s = XXH32(le32(keyHash) ‖ le32(nodeHash_i)), where keyHash =
 * XXH32(key, seed) and nodeHash_i = XXH32(UTF-8(id_i), seed). With weights the score is
 * w_i / −ln((s + 0.5) / 2^32) (weighted rendezvous, Schindelhauer & Schomaker 2005), which gives
 * node i exactly the share w_i / Σw in expectation. Ties go to the smaller id (UTF-8 bytes).
 *
 * Guarantees: minimal movement (a join takes keys only onto the new node, a leave moves only the
 * leaver's keys), no virtual points, balance as good as the key hash: each node's share is
 * binomial, so with many keys the peak is within a fraction of a percent of the mean. Costs one
 * score per node per lookup: the right choice up to a few dozen nodes, a ring beyond.
 */
export class Rendezvous implements Placement {
  readonly #seed: number;
  /** Members sorted by UTF-8 bytes of their id, so the first best score is the smallest id. */
  #members: Member[] = [];
  #bytes: Uint8Array[] = [];
  #ids: string[] = [];
  /** Node hashes as int32 bits (see hashBytes: small integers stay unboxed). */
  #hashes = new Int32Array(0);
  #weights = new Float64Array(0);
  /** True when all weights are equal: then raw scores order the nodes and no logarithm is needed. */
  #uniform = true;

  constructor(nodes: Iterable<NodeSpec> = [], options: RendezvousOptions = {}) {
    this.#seed = options.seed ?? 0;
    for (const node of nodes) this.add(node);
  }

  get size(): number {
    return this.#members.length;
  }

  owner(key: PlacementKey): string {
    const hashes = this.#hashes;
    const count = hashes.length;
    if (count === 0) throw emptyError();
    const keyHash = hashKey(key, this.#seed);
    let best = 0;
    if (this.#uniform) {
      // Scores are compared as unsigned 32-bit numbers; flipping the sign bit lets int32
      // comparison do that without leaving V8's small-integer representation.
      let bestScore = xxh32Pair(keyHash, hashes[0]!) ^ SIGN_BIT;
      for (let i = 1; i < count; i++) {
        const score = xxh32Pair(keyHash, hashes[i]!) ^ SIGN_BIT;
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
    } else {
      let bestScore = -1;
      for (let i = 0; i < count; i++) {
        const score = weightedScore(xxh32Pair(keyHash, hashes[i]!) >>> 0, this.#weights[i]!);
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
    }
    return this.#ids[best]!;
  }

  owners(key: PlacementKey, n: number): string[] {
    checkCount(n);
    const count = this.#members.length;
    const want = Math.min(n, count);
    if (want === 0) return [];
    const keyHash = hashKey(key, this.#seed);
    const scores = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const raw = xxh32Pair(keyHash, this.#hashes[i]!) >>> 0;
      scores[i] = this.#uniform ? raw : weightedScore(raw, this.#weights[i]!);
    }
    const order = Array.from({ length: count }, (_, i) => i);
    order.sort((a, b) => scores[b]! - scores[a]! || a - b);
    return order.slice(0, want).map((i) => this.#members[i]!.id);
  }

  add(node: NodeSpec): void {
    const member = toMember(node);
    const bytes = utf8Bytes(member.id);
    const at = this.#search(bytes);
    if (at >= 0) throw duplicateError(member.id);
    const insertAt = -at - 1;
    this.#members.splice(insertAt, 0, member);
    this.#bytes.splice(insertAt, 0, bytes);
    this.#rebuild();
  }

  remove(id: string): void {
    const at = this.#search(utf8Bytes(id));
    if (at < 0) throw unknownError(id);
    this.#members.splice(at, 1);
    this.#bytes.splice(at, 1);
    this.#rebuild();
  }

  has(id: string): boolean {
    return this.#search(utf8Bytes(id)) >= 0;
  }

  nodes(): string[] {
    return this.#members.map((m) => m.id);
  }

  /** Index of `bytes` among the sorted members, or −(insertion point) − 1 when absent. */
  #search(bytes: Uint8Array): number {
    let lo = 0;
    let hi = this.#bytes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const order = compareBytes(this.#bytes[mid]!, bytes);
      if (order === 0) return mid;
      if (order < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -lo - 1;
  }

  #rebuild(): void {
    const count = this.#members.length;
    this.#ids = this.#members.map((m) => m.id);
    this.#hashes = new Int32Array(count);
    this.#weights = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      this.#hashes[i] = xxh32(this.#bytes[i]!, this.#seed);
      this.#weights[i] = this.#members[i]!.weight;
    }
    this.#uniform = this.#members.every((m) => m.weight === this.#members[0]!.weight);
  }
}

/** w / −ln(u) with u = (score + 0.5) / 2^32 in (0, 1): an Exp(w)-distributed race, largest wins. */
function weightedScore(score: number, weight: number): number {
  return weight / -Math.log((score + 0.5) / TWO_POW_32);
}
