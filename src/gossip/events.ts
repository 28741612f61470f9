import type { MemberInfo } from './members.ts';
import type { GossipMessage } from './messages.ts';

/** Membership changes as this node observes them. */
export const GossipEventType = {
  /** A member appeared, or came back after being dead or gone. */
  Join: 'join',
  /** A member stopped answering probes; it may still refute. */
  Suspect: 'suspect',
  /** A suspect member refuted the suspicion. */
  Alive: 'alive',
  /** A member was declared failed. */
  Dead: 'dead',
  /** A member left gracefully. */
  Leave: 'leave',
  /** A member's metadata changed. */
  Update: 'update',
} as const;
export type GossipEventType = (typeof GossipEventType)[keyof typeof GossipEventType];

export interface GossipEvent {
  readonly type: GossipEventType;
  readonly member: MemberInfo;
  /** Local time of the observation. */
  readonly atMs: number;
}

/** A message the driver must send. */
export interface Outgoing {
  readonly to: string;
  readonly message: GossipMessage;
}
