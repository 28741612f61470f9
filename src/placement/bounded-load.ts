import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import { xxh32U32 } from './hash.ts';
import { RingTable } from './ring-table.ts';
import {
  checkCount,
  emptyError,
  hashKey,
  toMember,
  type NodeSpec,
  type Placement,
  type PlacementKey,
} from './types.ts';

/** Options of {@link BoundedLoadPlacement}. */
export interface BoundedLoadOptions {
  /**
   * c in "no node above c × its fair share": node i takes at most ceil(c × P × w_i / Σw)
   * partitions. At least 1 + 1/P. Lower is more even but moves more on membership changes.
   * Default 1.25.
   */
  readonly loadFactor?: number;
  /** Number of partitions P (a power of two, at most 2^20). Default 4096. */
  readonly partitions?: number;
  /** Virtual points per node on the ring that orders the candidates. Default 160. */
  readonly pointsPerNode?: number;
  /** Seed of the key hash and of the partitions' ring positions. Default 0. */
  readonly seed?: number;
}

export const DEFAULT_LOAD_FACTOR = 1.25;
export const DEFAULT_PARTITIONS = 4096;
const DEFAULT_BOUNDED_POINTS = 160;
const MAX_PARTITIONS = 1 << 20;

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam 2018), made a pure
 * function of the member list: keys hash into P partitions (partition = XXH32(key, seed) mod P),
 * and partitions 0, 1, …, P−1 are placed in that order, each on the first node clockwise from
 * its ring position XXH32(le32(p), seed) that is still below its cap ceil(c × P × w_i / Σw).
 *
 * Guarantees: no node ever holds more than its cap of partitions (so its key load is within c of
 * its fair share up to the spread of keys over partitions); a lookup is one hash and one array
 * read. Movement is near-minimal but not minimal: caps shift with membership, so a change can
 * push a few partitions between old nodes too (bounded in the paper by O(1/(c−1)²) per change).
 * `owners(key, n)` returns the owner, then the next distinct nodes clockwise from the partition's
 * position (replicas are not capped).
 */
export class BoundedLoadPlacement implements Placement {
  readonly #table: RingTable;
  readonly #seed: number;
  readonly #loadFactor: number;
  readonly #mask: number;
  /** Ring positions of the partitions; fixed for the life of the placement. */
  readonly #positions: Uint32Array;
  /** Owner slot of each partition. */
  #assignment: Uint16Array;
  #loads = new Uint32Array(0);

  constructor(nodes: Iterable<NodeSpec> = [], options: BoundedLoadOptions = {}) {
    const partitions = options.partitions ?? DEFAULT_PARTITIONS;
    const loadFactor = options.loadFactor ?? DEFAULT_LOAD_FACTOR;
    if (
      !Number.isInteger(partitions) ||
      partitions < 1 ||
      partitions > MAX_PARTITIONS ||
      (partitions & (partitions - 1)) !== 0
    ) {
      throw new SkeinError(
        CoreErrorCode.InvalidArgument,
        `placement: partitions must be a power of two in [1, 2^20], got ${partitions}`,
      );
    }
    // c × P ≥ P + 1 leaves at least one partition of slack, so rounding can never make the caps
    // sum below P (which would leave a partition with nowhere to go).
    if (!Number.isFinite(loadFactor) || loadFactor * partitions < partitions + 1) {
      throw new SkeinError(
        CoreErrorCode.InvalidArgument,
        `placement: loadFactor must be finite and at least 1 + 1/partitions (${1 + 1 / partitions}), got ${loadFactor}`,
      );
    }
    this.#table = new RingTable(options.pointsPerNode ?? DEFAULT_BOUNDED_POINTS);
    this.#seed = options.seed ?? 0;
    this.#loadFactor = loadFactor;
    this.#mask = partitions - 1;
    this.#positions = new Uint32Array(partitions);
    for (let p = 0; p < partitions; p++) this.#positions[p] = xxh32U32(p, this.#seed);
    this.#assignment = new Uint16Array(partitions);
    for (const node of nodes) this.#table.add(toMember(node));
    this.#assign();
  }

  get size(): number {
    return this.#table.size;
  }

  /** Number of partitions P. */
  get partitions(): number {
    return this.#positions.length;
  }

  owner(key: PlacementKey): string {
    const table = this.#table;
    if (table.size === 0) throw emptyError();
    return table.ids[this.#assignment[hashKey(key, this.#seed) & this.#mask]!]!;
  }

  owners(key: PlacementKey, n: number): string[] {
    checkCount(n);
    const table = this.#table;
    const want = Math.min(n, table.size);
    if (want === 0) return [];
    const partition = hashKey(key, this.#seed) & this.#mask;
    const result = [table.ids[this.#assignment[partition]!]!];
    const length = table.points.length;
    let i = table.find(this.#positions[partition]!);
    for (let step = 0; step < length && result.length < want; step++) {
      const id = table.ids[table.slots[i]!]!;
      if (!result.includes(id)) result.push(id);
      i = i + 1 === length ? 0 : i + 1;
    }
    return result;
  }

  add(node: NodeSpec): void {
    this.#table.add(toMember(node));
    this.#assign();
  }

  remove(id: string): void {
    this.#table.remove(id);
    this.#assign();
  }

  has(id: string): boolean {
    return this.#table.slotOf(id) !== undefined;
  }

  nodes(): string[] {
    return this.#table.sortedIds();
  }

  /** Partitions held by `id` (0 for a non-member). */
  partitionCount(id: string): number {
    const slot = this.#table.slotOf(id);
    return slot === undefined ? 0 : this.#loads[slot]!;
  }

  /** The most partitions `id` may hold: ceil(c × P × w / Σw) (0 for a non-member). */
  capacity(id: string): number {
    const slot = this.#table.slotOf(id);
    return slot === undefined ? 0 : this.#capacities()[slot]!;
  }

  #capacities(): Uint32Array {
    const table = this.#table;
    // Sum in id order, not slot order: slots depend on the add/remove history, and a float sum in
    // another order could round differently and shift a cap by one between two processes.
    let total = 0;
    for (const id of table.sortedIds()) total += table.weights[table.slotOf(id)!]!;
    const caps = new Uint32Array(table.ids.length);
    const scaled = this.#loadFactor * this.#positions.length;
    for (let slot = 0; slot < caps.length; slot++) {
      const weight = table.weights[slot]!;
      caps[slot] = weight > 0 ? Math.ceil((scaled * weight) / total) : 0;
    }
    return caps;
  }

  /** Places every partition in index order; Σcaps ≥ c × P > P, so each walk finds room. */
  #assign(): void {
    const table = this.#table;
    const loads = new Uint32Array(table.ids.length);
    this.#loads = loads;
    if (table.size === 0) return;
    const caps = this.#capacities();
    const { points, slots } = table;
    const length = points.length;
    const assignment = new Uint16Array(this.#positions.length);
    for (let p = 0; p < assignment.length; p++) {
      let i = table.find(this.#positions[p]!);
      while (loads[slots[i]!]! >= caps[slots[i]!]!) i = i + 1 === length ? 0 : i + 1;
      const slot = slots[i]!;
      loads[slot]!++;
      assignment[p] = slot;
    }
    this.#assignment = assignment;
  }
}
