import { SkeinError } from '../core/errors.ts';

/** Stable error codes raised by skein/raft. */
export const RaftErrorCode = {
  NoLeader: 'SKEIN_NO_LEADER',
  NotLeader: 'SKEIN_NOT_LEADER',
  NotMember: 'SKEIN_NOT_MEMBER',
  UnknownAction: 'SKEIN_UNKNOWN_ACTION',
  ConfigChangeInProgress: 'SKEIN_CONFIG_CHANGE_IN_PROGRESS',
  LeadershipTransferInProgress: 'SKEIN_LEADERSHIP_TRANSFER_IN_PROGRESS',
  Timeout: 'SKEIN_TIMEOUT',
  Overloaded: 'SKEIN_OVERLOADED',
  ProcessorFailed: 'SKEIN_PROCESSOR_FAILED',
  InvalidConfigChange: 'SKEIN_INVALID_CONFIG_CHANGE',
  NodeIdReused: 'SKEIN_NODE_ID_REUSED',
  AlreadyMember: 'SKEIN_ALREADY_MEMBER',
  NotDetached: 'SKEIN_NOT_DETACHED',
  LearnerNotCaughtUp: 'SKEIN_LEARNER_NOT_CAUGHT_UP',
  Stopped: 'SKEIN_STOPPED',
  CommandTooLarge: 'SKEIN_COMMAND_TOO_LARGE',
} as const;
export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

const hints: Record<RaftErrorCode, string> = {
  SKEIN_NO_LEADER: 'no leader is known right now; retry after an election completes',
  SKEIN_NOT_LEADER: 'this operation must run on the leader; retry on the leader',
  SKEIN_NOT_MEMBER: 'this node belongs to no cluster; call solo() or ask a member to attach it',
  SKEIN_UNKNOWN_ACTION: 'register a processor for this action in RaftNode.create({ processors })',
  SKEIN_CONFIG_CHANGE_IN_PROGRESS: 'another membership change is in flight; retry when it completes',
  SKEIN_LEADERSHIP_TRANSFER_IN_PROGRESS: 'leadership is moving; retry in a moment',
  SKEIN_TIMEOUT: 'the operation did not complete in time; it may or may not have taken effect',
  SKEIN_OVERLOADED: 'too many uncommitted proposals; slow down and retry',
  SKEIN_PROCESSOR_FAILED: 'the processor threw while applying this command; the log is unaffected',
  SKEIN_INVALID_CONFIG_CHANGE: 'fix the requested membership change',
  SKEIN_NODE_ID_REUSED: 'this id was removed from the cluster before; give the node a new id',
  SKEIN_ALREADY_MEMBER: 'the node is already a member',
  SKEIN_NOT_DETACHED: 'detach the node from its cluster before resetting it',
  SKEIN_LEARNER_NOT_CAUGHT_UP: 'wait until the learner has caught up with the leader, then promote it',
  SKEIN_STOPPED: 'the node was stopped',
  SKEIN_COMMAND_TOO_LARGE: 'split the command or raise maxCommandBytes (and the transport maxFrameBytes)',
};

/** A SkeinError with a raft code; the message adds what to do about it. */
export function raftError(
  code: RaftErrorCode,
  what: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): SkeinError {
  return new SkeinError(code, `${what}: ${hints[code]}`, options);
}
