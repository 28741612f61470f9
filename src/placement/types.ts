import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import { PlacementErrorCode } from './errors.ts';
import { hashBytes, hashString } from './hash.ts';

/** A key to place: a string (hashed as its UTF-8 bytes) or raw bytes. */
export type PlacementKey = string | Uint8Array;

/** A member: its id, or its id and a positive weight (default 1; 2 means twice the share). */
export type NodeSpec = string | { readonly id: string; readonly weight?: number };

/**
 * What every strategy offers. Owners are a pure function of the member set (plus the strategy's
 * options), never of the order in which members were added, except for jump hash whose buckets
 * are an ordered list by design.
 */
export interface Placement {
  /** Number of member nodes. */
  readonly size: number;
  /** The node that owns `key`. Throws `SKEIN_PLACEMENT_EMPTY` when there are no nodes. */
  owner(key: PlacementKey): string;
  /** Up to `n` distinct nodes for `key`, the owner first (for replicas). */
  owners(key: PlacementKey, n: number): string[];
  /** Adds a member. Throws `SKEIN_PLACEMENT_DUPLICATE_NODE` if it is already one. */
  add(node: NodeSpec): void;
  /** Removes a member. Throws `SKEIN_PLACEMENT_UNKNOWN_NODE` if it is not one. */
  remove(id: string): void;
  /** True when `id` is a member. */
  has(id: string): boolean;
  /** The member ids (sorted by UTF-8 bytes, except jump hash: bucket order). */
  nodes(): string[];
}

/** A validated member. */
export interface Member {
  readonly id: string;
  readonly weight: number;
}

/** Validates a {@link NodeSpec}: a non-empty id and a finite positive weight. */
export function toMember(spec: NodeSpec): Member {
  const id = typeof spec === 'string' ? spec : spec.id;
  const weight = typeof spec === 'string' ? 1 : (spec.weight ?? 1);
  if (typeof id !== 'string' || id.length === 0) {
    throw new SkeinError(CoreErrorCode.InvalidArgument, 'placement: a node id must be a non-empty string');
  }
  if (!Number.isFinite(weight) || weight <= 0) {
    throw new SkeinError(
      CoreErrorCode.InvalidArgument,
      `placement: node ${id} has weight ${weight}; use a finite number greater than 0`,
      { details: { id, weight } },
    );
  }
  return { id, weight };
}

/**
 * The 32-bit position of a key: XXH32 of its bytes (strings as UTF-8) with `seed`, as a signed
 * int32 (use `>>> 0` for the unsigned value).
 */
export function hashKey(key: PlacementKey, seed: number): number {
  return typeof key === 'string' ? hashString(key, seed) : hashBytes(key, seed, key.length);
}

/** Orders two byte strings lexicographically (shorter first on a common prefix). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function emptyError(): SkeinError {
  return new SkeinError(PlacementErrorCode.Empty, 'placement has no nodes; add at least one node first');
}

export function duplicateError(id: string): SkeinError {
  return new SkeinError(PlacementErrorCode.DuplicateNode, `node ${id} is already a member; remove it first`, {
    details: { id },
  });
}

export function unknownError(id: string): SkeinError {
  return new SkeinError(PlacementErrorCode.UnknownNode, `node ${id} is not a member`, { details: { id } });
}

/** Checks the replica count of `owners(key, n)`: a non-negative integer. */
export function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new SkeinError(
      CoreErrorCode.InvalidArgument,
      `placement: owners(key, n) needs an integer n >= 0, got ${n}`,
    );
  }
}
