import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import { xxh32, utf8Bytes } from './hash.ts';
import { compareBytes, duplicateError, unknownError, type Member } from './types.ts';

/** Node slots are stored in a Uint16Array next to the points, so a ring holds at most this many nodes. */
export const MAX_RING_NODES = 0x10000;

/** Cap of the bucket index: 2^20 buckets (4 MiB), reached at a million points. */
const MAX_INDEX_BITS = 20;

/**
 * The data structure behind {@link HashRing} and {@link BoundedLoadPlacement}: the sorted ring
 * points in a Uint32Array and, at the same index, the slot of the node that owns each point in a
 * Uint16Array: 6 bytes per point instead of an object per point, and a bucket index over the top
 * bits of the hash (4 bytes per point) that turns a lookup into one or two array reads.
 *
 * Node j-th point: XXH32(UTF-8(id), seed = j) for j in [0, max(1, floor(pointsPerNode × weight + 0.5))).
 * Equal points are ordered by node id (UTF-8 bytes), so the smaller id owns the tie everywhere.
 */
export class RingTable {
  readonly pointsPerNode: number;
  points = new Uint32Array(0);
  slots = new Uint16Array(0);
  /** Node id by slot ('' for a free slot). */
  readonly ids: string[] = [];
  readonly weights: number[] = [];
  readonly #bytes: Uint8Array[] = [];
  readonly #slotOf = new Map<string, number>();
  readonly #free: number[] = [];
  #index = new Int32Array(2);
  #shift = 31;

  constructor(pointsPerNode: number) {
    if (!Number.isInteger(pointsPerNode) || pointsPerNode < 1) {
      throw new SkeinError(
        CoreErrorCode.InvalidArgument,
        `placement: pointsPerNode must be an integer >= 1, got ${pointsPerNode}`,
      );
    }
    this.pointsPerNode = pointsPerNode;
  }

  get size(): number {
    return this.#slotOf.size;
  }

  slotOf(id: string): number | undefined {
    return this.#slotOf.get(id);
  }

  /** Points a member gets: proportional to its weight, at least one. */
  pointCount(weight: number): number {
    return Math.max(1, Math.floor(this.pointsPerNode * weight + 0.5)); // round half up, as specified
  }

  add(member: Member): void {
    if (this.#slotOf.has(member.id)) throw duplicateError(member.id);
    const slot = this.#free.pop() ?? this.ids.length;
    if (slot >= MAX_RING_NODES) {
      throw new SkeinError(
        CoreErrorCode.InvalidArgument,
        `placement: a ring holds at most ${MAX_RING_NODES} nodes; use rendezvous or jump hash for more`,
      );
    }
    const bytes = utf8Bytes(member.id);
    const fresh = new Uint32Array(this.pointCount(member.weight));
    for (let j = 0; j < fresh.length; j++) fresh[j] = xxh32(bytes, j);
    fresh.sort();
    this.ids[slot] = member.id;
    this.weights[slot] = member.weight;
    this.#bytes[slot] = bytes;
    this.#slotOf.set(member.id, slot);
    this.#merge(fresh, slot);
  }

  remove(id: string): void {
    const slot = this.#slotOf.get(id);
    if (slot === undefined) throw unknownError(id);
    const kept = this.points.length - this.pointCount(this.weights[slot]!);
    const points = new Uint32Array(kept);
    const slots = new Uint16Array(kept);
    let k = 0;
    for (let i = 0; i < this.points.length; i++) {
      if (this.slots[i] === slot) continue;
      points[k] = this.points[i]!;
      slots[k++] = this.slots[i]!;
    }
    this.points = points;
    this.slots = slots;
    this.#reindex();
    this.ids[slot] = '';
    this.weights[slot] = 0;
    this.#bytes[slot] = new Uint8Array(0);
    this.#slotOf.delete(id);
    this.#free.push(slot);
  }

  /**
   * Slot of the node owning `hash` (32 bits, signed or unsigned): the owner of the first point
   * >= hash, wrapping (ring must be non-empty).
   */
  ownerSlot(hash: number): number {
    const entry = this.#index[hash >>> this.#shift]!;
    // Most buckets hold no point, so one read answers; otherwise scan the bucket's few points.
    return entry < 0 ? ~entry : this.slots[this.#scan(entry, hash)]!;
  }

  /** Index of the first point >= `hash`, wrapping to 0 past the last point (ring must be non-empty). */
  find(hash: number): number {
    const entry = this.#index[hash >>> this.#shift]!;
    if (entry >= 0) return this.#scan(entry, hash);
    const target = hash >>> 0;
    const points = this.points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }

  #scan(start: number, hash: number): number {
    const points = this.points;
    const target = hash >>> 0;
    let i = start;
    while (i < points.length && points[i]! < target) i++;
    return i === points.length ? 0 : i;
  }

  /**
   * Rebuilds the bucket index over the top bits of the hash, about one bucket per point. A bucket
   * that holds points stores the index of its first point, and a lookup scans the one or two
   * points from there; a bucket that holds none (about half of them) has a single owner, stored
   * as ~slot, so the lookup is one read. Either way there is no binary search, which would cost a
   * cache miss per level once the ring outgrows L1.
   */
  #reindex(): void {
    const points = this.points;
    const count = points.length;
    const bits = Math.min(MAX_INDEX_BITS, Math.max(1, Math.ceil(Math.log2(count + 1))));
    const buckets = 1 << bits;
    const shift = 32 - bits;
    const index = new Int32Array(buckets);
    let i = 0;
    for (let b = 0; b < buckets; b++) {
      while (i < count && points[i]! >>> shift < b) i++;
      if (i < count && points[i]! >>> shift === b) index[b] = i;
      else index[b] = count === 0 ? -1 : ~this.slots[i === count ? 0 : i]!;
    }
    this.#index = index;
    this.#shift = shift;
  }

  /** Member ids ordered by UTF-8 bytes. */
  sortedIds(): string[] {
    const live: number[] = [];
    for (const slot of this.#slotOf.values()) live.push(slot);
    live.sort((a, b) => compareBytes(this.#bytes[a]!, this.#bytes[b]!));
    return live.map((slot) => this.ids[slot]!);
  }

  /** Merges the sorted points of a new node into the ring: O(points), no re-sort. */
  #merge(fresh: Uint32Array, slot: number): void {
    const old = this.points;
    const oldSlots = this.slots;
    const points = new Uint32Array(old.length + fresh.length);
    const slots = new Uint16Array(points.length);
    const bytes = this.#bytes[slot]!;
    let i = 0;
    let j = 0;
    for (let k = 0; k < points.length; k++) {
      const takeOld =
        j === fresh.length ||
        (i < old.length &&
          (old[i]! < fresh[j]! ||
            (old[i] === fresh[j] && compareBytes(this.#bytes[oldSlots[i]!]!, bytes) < 0)));
      if (takeOld) {
        points[k] = old[i]!;
        slots[k] = oldSlots[i++]!;
      } else {
        points[k] = fresh[j++]!;
        slots[k] = slot;
      }
    }
    this.points = points;
    this.slots = slots;
    this.#reindex();
  }
}
