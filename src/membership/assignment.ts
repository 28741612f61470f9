import { SkeinError } from '../core/errors.ts';
import { MembershipErrorCode } from './errors.ts';

/**
 * How a settling group numbers its members 1..n.
 *
 * - `join-order` (bloc's): members sorted by join sequence get 1..n; after a leave everyone behind
 *   the leaver moves up one, so the numbering stays compact.
 * - `sticky` (the default): a survivor keeps its previous index while that index is ≤ the new
 *   total; everyone else (newcomers, and survivors whose index no longer fits) fills the free
 *   indexes in join order. This changes the fewest indexes possible (see {@link assign}).
 */
export const AssignmentStrategy = {
  JoinOrder: 'join-order',
  Sticky: 'sticky',
} as const;
export type AssignmentStrategy = (typeof AssignmentStrategy)[keyof typeof AssignmentStrategy];

/** The default strategy of a new group. */
export const DEFAULT_STRATEGY: AssignmentStrategy = AssignmentStrategy.Sticky;

/** True when `value` names a strategy. */
export function isAssignmentStrategy(value: unknown): value is AssignmentStrategy {
  return value === AssignmentStrategy.JoinOrder || value === AssignmentStrategy.Sticky;
}

/** What {@link assign} needs to know about a member. */
export interface AssignableMember {
  readonly id: string;
  /** Position in the join order: smaller joined earlier. Ties are broken by id. */
  readonly joinSeq: number;
  /**
   * Declared weight. Neither strategy uses it: an index is a slot, and both strategies hand out
   * exactly one slot per member. It travels with the member so that applications can weight
   * their own shares (e.g. with skein/placement's weighted strategies).
   */
  readonly weight?: number | undefined;
}

/** Join order: by `joinSeq`, then by id (code-unit order), so the result never depends on input order. */
export function byJoinOrder(a: AssignableMember, b: AssignableMember): number {
  if (a.joinSeq !== b.joinSeq) return a.joinSeq - b.joinSeq;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Numbers `members` 1..n with `strategy`. `previous` is the group's last settled assignment
 * (ids that are no longer members are ignored); `null` for a group that never settled.
 *
 * Sticky is minimal: a member changes index when it had one before and gets a different one now.
 * A member whose previous index is > n must change; sticky changes exactly those, so no
 * assignment of 1..n changes fewer (the tests check this against brute force).
 *
 * @throws SkeinError `SKEIN_MEMBERSHIP_INVALID_COMMAND` when two members share an id.
 */
export function assign(
  strategy: AssignmentStrategy,
  previous: ReadonlyMap<string, number> | null,
  members: readonly AssignableMember[],
): Map<string, number> {
  const ordered = [...members].sort(byJoinOrder);
  for (let i = 1; i < ordered.length; i++) {
    if (ordered[i]!.id === ordered[i - 1]!.id) {
      throw new SkeinError(MembershipErrorCode.InvalidCommand, `member ${ordered[i]!.id} is listed twice`);
    }
  }
  const result = new Map<string, number>();
  if (strategy === AssignmentStrategy.JoinOrder || previous === null) {
    ordered.forEach((member, i) => result.set(member.id, i + 1));
    return result;
  }
  const total = ordered.length;
  const taken = new Set<number>();
  const movers: AssignableMember[] = [];
  for (const member of ordered) {
    const before = previous.get(member.id);
    // `taken` guards against a caller's `previous` that repeats an index: the earlier joiner keeps it.
    if (
      before !== undefined &&
      Number.isInteger(before) &&
      before >= 1 &&
      before <= total &&
      !taken.has(before)
    ) {
      taken.add(before);
      result.set(member.id, before);
    } else {
      movers.push(member);
    }
  }
  let next = 1;
  for (const member of movers) {
    while (taken.has(next)) next++;
    taken.add(next);
    result.set(member.id, next);
  }
  return result;
}

/** How many members of `next` had an index in `previous` and now have a different one. */
export function countMoves(
  previous: ReadonlyMap<string, number> | null,
  next: ReadonlyMap<string, number>,
): number {
  if (previous === null) return 0;
  let moves = 0;
  for (const [id, index] of next) {
    const before = previous.get(id);
    if (before !== undefined && before !== index) moves++;
  }
  return moves;
}
