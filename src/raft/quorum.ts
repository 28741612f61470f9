import type { ClusterConfig, NodeId } from './types.ts';

/**
 * Quorum arithmetic for simple and joint configurations. In joint consensus a decision needs a
 * majority of `voters` AND a majority of `outgoing`; an empty side imposes no condition.
 */

/** The highest index acknowledged by a majority of `ids`, given each id's match index. */
function majorityIndex(ids: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (ids.length === 0) return Number.POSITIVE_INFINITY;
  const matches = ids.map(matchOf).sort((a, b) => b - a);
  return matches[Math.floor(ids.length / 2)]!;
}

/** The highest index committed by the configuration (joint-aware). */
export function committedIndex(config: ClusterConfig, matchOf: (id: NodeId) => number): number {
  const incoming = majorityIndex(Object.keys(config.voters), matchOf);
  const outgoing = majorityIndex(Object.keys(config.outgoing), matchOf);
  const index = Math.min(incoming, outgoing);
  return index === Number.POSITIVE_INFINITY ? 0 : index;
}

export const VoteResult = { Won: 'won', Lost: 'lost', Pending: 'pending' } as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

function majorityVote(ids: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (ids.length === 0) return VoteResult.Won;
  let granted = 0;
  let rejected = 0;
  for (const id of ids) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const quorum = Math.floor(ids.length / 2) + 1;
  if (granted >= quorum) return VoteResult.Won;
  if (rejected > ids.length - quorum) return VoteResult.Lost;
  return VoteResult.Pending;
}

/** The outcome of an election (joint-aware): won only if both sides are won. */
export function voteResult(config: ClusterConfig, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const a = majorityVote(Object.keys(config.voters), votes);
  const b = majorityVote(Object.keys(config.outgoing), votes);
  if (a === VoteResult.Won && b === VoteResult.Won) return VoteResult.Won;
  if (a === VoteResult.Lost || b === VoteResult.Lost) return VoteResult.Lost;
  return VoteResult.Pending;
}

/** True when the ids in `active` contain a quorum of the configuration. */
export function hasQuorum(config: ClusterConfig, active: ReadonlySet<NodeId>): boolean {
  const votes = new Map<NodeId, boolean>();
  for (const id of active) votes.set(id, true);
  return voteResult(config, votes) === VoteResult.Won;
}

/** Every id that votes in the configuration (incoming and outgoing). */
export function allVoters(config: ClusterConfig): NodeId[] {
  const ids = new Set([...Object.keys(config.voters), ...Object.keys(config.outgoing)]);
  return [...ids].sort();
}

/** Every id that receives the log: voters of both sides and learners. */
export function allMembers(config: ClusterConfig): NodeId[] {
  const ids = new Set([...allVoters(config), ...Object.keys(config.learners)]);
  return [...ids].sort();
}

export function isVoter(config: ClusterConfig, id: NodeId): boolean {
  return Object.hasOwn(config.voters, id) || Object.hasOwn(config.outgoing, id);
}

export function isMember(config: ClusterConfig, id: NodeId): boolean {
  return isVoter(config, id) || Object.hasOwn(config.learners, id);
}

export function isJoint(config: ClusterConfig): boolean {
  return Object.keys(config.outgoing).length > 0;
}

/** The address of a member, from whichever part of the configuration names it. */
export function addressOf(config: ClusterConfig, id: NodeId): string | undefined {
  return config.voters[id] ?? config.outgoing[id] ?? config.learners[id];
}
