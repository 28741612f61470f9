/**
 * skein/placement: which node owns a key. Five strategies behind one {@link Placement} interface,
 * built directly or from configuration with {@link createPlacement}:
 *
 * - {@link RendezvousTable}: rendezvous hashing precomputed over partitions: the fastest lookups,
 *   minimal movement, the default (best balance up to ~20 nodes at the default partition count);
 * - {@link HashRing}: consistent hashing on a ring of virtual points, for larger clusters;
 * - {@link Rendezvous}: highest-random-weight hashing, exact shares, O(nodes) per lookup;
 * - {@link JumpPlacement}: jump consistent hash for numbered buckets that only grow or shrink at the end;
 * - {@link BoundedLoadPlacement}: a ring whose nodes never exceed c × their fair share.
 *
 * Every owner is a pure function of the member list and the options, computed with XXH32
 * ({@link xxh32}), so processes in any language that follow docs/placement.md agree on it.
 * @packageDocumentation
 */
export type { Placement, PlacementKey, NodeSpec } from './types.ts';
export { PlacementErrorCode } from './errors.ts';
export { createPlacement, PlacementStrategy, type PlacementOptions } from './create.ts';
export { HashRing, DEFAULT_POINTS_PER_NODE, type HashRingOptions } from './ring.ts';
export { Rendezvous, type RendezvousOptions } from './rendezvous.ts';
export {
  RendezvousTable,
  DEFAULT_TABLE_PARTITIONS,
  type RendezvousTableOptions,
} from './rendezvous-table.ts';
export { JumpPlacement, type JumpPlacementOptions } from './jump-placement.ts';
export {
  BoundedLoadPlacement,
  DEFAULT_LOAD_FACTOR,
  DEFAULT_PARTITIONS,
  type BoundedLoadOptions,
} from './bounded-load.ts';
export { MAX_RING_NODES } from './ring-table.ts';
export { xxh32, xxh32String } from './hash.ts';
export { jumpHash } from './jump.ts';
