import { utf8Bytes, xxh32, xxh32Pair } from './hash.ts';
import { compareBytes, duplicateError, unknownError, type Member } from './types.ts';

const SIGN_BIT = 0x80000000 | 0;

/** 2^32, to turn a 32-bit score into a uniform number in (0, 1). */
const TWO_POW_32 = 4294967296;

/**
 * The member list of rendezvous hashing and its scoring, shared by {@link Rendezvous} (which scores
 * key hashes) and {@link RendezvousTable} (which scores partition numbers).
 *
 * Members are kept sorted by the UTF-8 bytes of their id, so "first best score" means "ties go to
 * the smaller id". Score of member i for a 32-bit value x: s = XXH32(le32(x) ‖ le32(nodeHash_i)),
 * nodeHash_i = XXH32(UTF-8(id_i), seed); with unequal weights, w_i / −ln((s + 0.5) / 2^32).
 */
export class HrwMembers {
  readonly #seed: number;
  #members: Member[] = [];
  #bytes: Uint8Array[] = [];
  /** Ids in member order. */
  ids: string[] = [];
  /** Node hashes as int32 bits (see hashBytes: small integers stay unboxed). */
  #hashes = new Int32Array(0);
  #weights = new Float64Array(0);
  /** True when all weights are equal: then raw scores order the nodes and no logarithm is needed. */
  #uniform = true;

  constructor(seed: number) {
    this.#seed = seed;
  }

  get size(): number {
    return this.#members.length;
  }

  /**
   * A number that orders member i's claim on `x` (larger wins). With equal weights it is the raw
   * score with its sign bit flipped, so int32 comparison orders it as unsigned; otherwise the
   * weighted score. Both give the same ranking; only compare scores taken in the same state.
   */
  score(x: number, i: number): number {
    const raw = xxh32Pair(x, this.#hashes[i]!);
    return this.#uniform ? raw ^ SIGN_BIT : weightedScore(raw >>> 0, this.#weights[i]!);
  }

  /** Index of the member that owns `x` (members must be non-empty). */
  best(x: number): number {
    const hashes = this.#hashes;
    let best = 0;
    if (this.#uniform) {
      let bestScore = xxh32Pair(x, hashes[0]!) ^ SIGN_BIT;
      for (let i = 1; i < hashes.length; i++) {
        const score = xxh32Pair(x, hashes[i]!) ^ SIGN_BIT;
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
    } else {
      let bestScore = -1;
      for (let i = 0; i < hashes.length; i++) {
        const score = weightedScore(xxh32Pair(x, hashes[i]!) >>> 0, this.#weights[i]!);
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
    }
    return best;
  }

  /** The `n` best members for `x`, best first (ties: smaller id first). */
  ranked(x: number, n: number): string[] {
    const count = this.#members.length;
    const scores = new Float64Array(count);
    for (let i = 0; i < count; i++) scores[i] = this.score(x, i);
    const order = Array.from({ length: count }, (_, i) => i);
    order.sort((a, b) => scores[b]! - scores[a]! || a - b);
    return order.slice(0, n).map((i) => this.ids[i]!);
  }

  /** Inserts a member; returns its index. */
  add(member: Member): number {
    const bytes = utf8Bytes(member.id);
    const at = this.#search(bytes);
    if (at >= 0) throw duplicateError(member.id);
    const insertAt = -at - 1;
    this.#members.splice(insertAt, 0, member);
    this.#bytes.splice(insertAt, 0, bytes);
    this.#rebuild();
    return insertAt;
  }

  /** Removes a member; returns the index it had. */
  remove(id: string): number {
    const at = this.#search(utf8Bytes(id));
    if (at < 0) throw unknownError(id);
    this.#members.splice(at, 1);
    this.#bytes.splice(at, 1);
    this.#rebuild();
    return at;
  }

  has(id: string): boolean {
    return this.#search(utf8Bytes(id)) >= 0;
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
    this.ids = this.#members.map((m) => m.id);
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
