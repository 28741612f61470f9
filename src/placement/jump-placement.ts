import { SkeinError } from '../core/errors.ts';
import { PlacementErrorCode } from './errors.ts';
import { jumpHash } from './jump.ts';
import {
  checkCount,
  duplicateError,
  emptyError,
  hashKey,
  toMember,
  unknownError,
  type NodeSpec,
  type Placement,
  type PlacementKey,
} from './types.ts';

/** Options of {@link JumpPlacement}. */
export interface JumpPlacementOptions {
  /** Seed of the key hash (XXH32 seed). Default 0. */
  readonly seed?: number;
}

/**
 * Jump consistent hash over an ordered list of buckets: bucket b of n owns a key when
 * `jumpHash(0:XXH32(key, seed), n) === b` (the 32-bit key hash, zero-extended to 64 bits).
 *
 * Guarantees: perfect balance in expectation with no memory per bucket; appending a bucket moves
 * exactly the keys that go to it, and removing the last bucket moves only its keys. Buckets in the
 * middle cannot leave (that would renumber the rest), and there are no weights: use it for
 * numbered shards whose ids never disappear (e.g. storage partitions), not for live members.
 * `owners(key, n)` returns the owner and the next buckets in order, wrapping around.
 */
export class JumpPlacement implements Placement {
  readonly #seed: number;
  readonly #buckets: string[] = [];
  readonly #index = new Map<string, number>();

  constructor(buckets: Iterable<NodeSpec> = [], options: JumpPlacementOptions = {}) {
    this.#seed = options.seed ?? 0;
    for (const bucket of buckets) this.add(bucket);
  }

  get size(): number {
    return this.#buckets.length;
  }

  owner(key: PlacementKey): string {
    const count = this.#buckets.length;
    if (count === 0) throw emptyError();
    return this.#buckets[jumpHash(0, hashKey(key, this.#seed), count)]!;
  }

  owners(key: PlacementKey, n: number): string[] {
    checkCount(n);
    const count = this.#buckets.length;
    const want = Math.min(n, count);
    if (want === 0) return [];
    const first = jumpHash(0, hashKey(key, this.#seed), count);
    const result: string[] = [];
    for (let i = 0; i < want; i++) result.push(this.#buckets[(first + i) % count]!);
    return result;
  }

  /** Appends a bucket (weights other than 1 are not supported by jump hash). */
  add(node: NodeSpec): void {
    const member = toMember(node);
    if (member.weight !== 1) {
      throw new SkeinError(
        PlacementErrorCode.Unsupported,
        `jump hash has no weights (node ${member.id} has ${member.weight}); use HashRing or Rendezvous`,
      );
    }
    if (this.#index.has(member.id)) throw duplicateError(member.id);
    this.#index.set(member.id, this.#buckets.length);
    this.#buckets.push(member.id);
  }

  /** Removes the LAST bucket; any other would renumber the buckets after it and move their keys. */
  remove(id: string): void {
    const at = this.#index.get(id);
    if (at === undefined) throw unknownError(id);
    if (at !== this.#buckets.length - 1) {
      throw new SkeinError(
        PlacementErrorCode.Unsupported,
        `jump hash can only remove its last bucket (${this.#buckets.at(-1)}), not ${id}; ` +
          'use HashRing or Rendezvous when any member may leave',
        { details: { id, index: at } },
      );
    }
    this.#buckets.pop();
    this.#index.delete(id);
  }

  has(id: string): boolean {
    return this.#index.has(id);
  }

  /** Bucket ids in bucket order. */
  nodes(): string[] {
    return [...this.#buckets];
  }
}
