import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import { BoundedLoadPlacement } from './bounded-load.ts';
import { JumpPlacement } from './jump-placement.ts';
import { Rendezvous } from './rendezvous.ts';
import { RendezvousTable } from './rendezvous-table.ts';
import { HashRing } from './ring.ts';
import type { NodeSpec, Placement } from './types.ts';

/** The strategies {@link createPlacement} can build. */
export const PlacementStrategy = {
  /** {@link RendezvousTable}, the default. */
  Table: 'table',
  /** {@link HashRing}. */
  Ring: 'ring',
  /** {@link Rendezvous}. */
  Rendezvous: 'rendezvous',
  /** {@link JumpPlacement}. */
  Jump: 'jump',
  /** {@link BoundedLoadPlacement}. */
  BoundedLoad: 'bounded-load',
} as const;
export type PlacementStrategy = (typeof PlacementStrategy)[keyof typeof PlacementStrategy];

/** Options of {@link createPlacement}: a strategy and the knobs that strategy reads. */
export interface PlacementOptions {
  /** Default `'table'` ({@link RendezvousTable}). */
  readonly strategy?: PlacementStrategy;
  /** Key (and node) hash seed; every strategy. Default 0. */
  readonly seed?: number;
  /** `'table'` and `'bounded-load'`: number of partitions. */
  readonly partitions?: number;
  /** `'ring'` and `'bounded-load'`: virtual points per node of weight 1. */
  readonly pointsPerNode?: number;
  /** `'bounded-load'`: the load cap factor c. */
  readonly loadFactor?: number;
}

/**
 * Builds a placement from configuration, e.g. `createPlacement(members)` for the default or
 * `createPlacement(members, { strategy: 'ring', pointsPerNode: 1024 })`. Processes that pass the
 * same members and options agree on every owner.
 */
export function createPlacement(nodes: Iterable<NodeSpec> = [], options: PlacementOptions = {}): Placement {
  const { strategy = PlacementStrategy.Table, seed, partitions, pointsPerNode, loadFactor } = options;
  const common = seed === undefined ? {} : { seed };
  switch (strategy) {
    case PlacementStrategy.Table:
      return new RendezvousTable(nodes, { ...common, ...(partitions === undefined ? {} : { partitions }) });
    case PlacementStrategy.Ring:
      return new HashRing(nodes, { ...common, ...(pointsPerNode === undefined ? {} : { pointsPerNode }) });
    case PlacementStrategy.Rendezvous:
      return new Rendezvous(nodes, common);
    case PlacementStrategy.Jump:
      return new JumpPlacement(nodes, common);
    case PlacementStrategy.BoundedLoad:
      return new BoundedLoadPlacement(nodes, {
        ...common,
        ...(partitions === undefined ? {} : { partitions }),
        ...(pointsPerNode === undefined ? {} : { pointsPerNode }),
        ...(loadFactor === undefined ? {} : { loadFactor }),
      });
    default:
      throw new SkeinError(
        CoreErrorCode.InvalidConfig,
        `placement: unknown strategy ${String(strategy)}; use one of ${Object.values(PlacementStrategy).join(', ')}`,
      );
  }
}
