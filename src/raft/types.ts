import type { NodeId } from '../transport/types.ts';
import type { SnapshotMeta } from '../storage/types.ts';

export type { NodeId };

/** What an entry carries. `noop` is appended by every new leader; `config` changes membership. */
export const EntryKind = { Normal: 0, Config: 1, Noop: 2 } as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

/** One replicated log entry. `data` is opaque to the core except for config entries. */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly kind: EntryKind;
  readonly data: unknown;
}

/**
 * A cluster configuration. Members are keyed by id with the address they listen on, so that
 * every member learns how to reach new peers from the log itself.
 *
 * `outgoing` is non-empty only during joint consensus: decisions then need a majority of
 * `voters` AND a majority of `outgoing`. Learners receive the log but never vote or count.
 * `removed` remembers ids that left, so an id is never reused for a different history.
 */
export interface ClusterConfig {
  readonly voters: Readonly<Record<NodeId, string>>;
  readonly outgoing: Readonly<Record<NodeId, string>>;
  readonly learners: Readonly<Record<NodeId, string>>;
  readonly removed: readonly NodeId[];
}

export const emptyConfig: ClusterConfig = { voters: {}, outgoing: {}, learners: {}, removed: [] };

/**
 * The data of a config entry. `enter-joint` moves to joint consensus between the current voters
 * (which become `outgoing`) and `voters`; `leave-joint` drops `outgoing` and is appended by the
 * leader automatically once `enter-joint` commits. `replace` sets a configuration outright and is
 * only used where no agreement is possible or needed: the first member of a new cluster (`solo`)
 * and learner-only changes.
 */
export type ConfigChange =
  | {
      readonly type: 'enter-joint';
      readonly voters: Readonly<Record<NodeId, string>>;
      readonly learners: Readonly<Record<NodeId, string>>;
    }
  | { readonly type: 'leave-joint' }
  | {
      readonly type: 'replace';
      readonly voters: Readonly<Record<NodeId, string>>;
      readonly learners: Readonly<Record<NodeId, string>>;
      readonly clusterId: string;
    };

/** State that must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
  /** Identity of the cluster this node belongs to; '' when it belongs to none. */
  readonly clusterId: string;
}

export const Role = {
  Follower: 'follower',
  PreCandidate: 'pre-candidate',
  Candidate: 'candidate',
  Leader: 'leader',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Wire messages between Raft peers. Every message carries the sender's term and cluster id. */
export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | TimeoutNow
  | ForwardedProposal
  | ReadIndexRequest
  | ReadIndexResponse
  | SnapshotChunk;

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly clusterId: string;
}

export interface VoteRequest extends Envelope {
  readonly type: 'vote' | 'pre-vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Set when the election was started by a leadership transfer: voters skip their lease check. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'vote-response' | 'pre-vote-response';
  readonly granted: boolean;
  /**
   * The voter's commit index (capped at the candidate's last index) and the voter's term at that
   * index. A candidate whose entry there has that term holds the same committed prefix (log
   * matching) and may commit it: one that lost its own commit index in a crash learns of a
   * configuration change it can no longer be elected without. Absent from older peers.
   */
  readonly commit?: number;
  readonly commitTerm?: number;
}

export interface AppendRequest extends Envelope {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends Envelope {
  readonly type: 'append-response';
  readonly success: boolean;
  /** On success: the follower's last index matching the leader. On rejection: the rejected prevIndex. */
  readonly index: number;
  /** On rejection: a conflict hint — an index at or below which the logs may match, and its term. */
  readonly hintIndex: number;
  readonly hintTerm: number;
}

export interface HeartbeatRequest extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: number;
  /** ReadIndex round this heartbeat confirms leadership for (0 when none). */
  readonly readRound: number;
  /** Sent only to move the follower's commit index forward: no response wanted. */
  readonly commitOnly: boolean;
  /** The leader's tick count when sent, echoed back; it times lease reads from the send. */
  readonly sentTick: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeat-response';
  readonly readRound: number;
  /** The follower's commit index, so a departing leader knows who has learned of its removal. */
  readonly commit: number;
  /** Echo of the heartbeat's `sentTick`. */
  readonly sentTick: number;
}

export interface TimeoutNow extends Envelope {
  readonly type: 'timeout-now';
}

/** A follower forwards proposals to its leader. */
export interface ForwardedProposal extends Envelope {
  readonly type: 'propose';
  readonly entries: readonly { readonly kind: EntryKind; readonly data: unknown }[];
}

/** A follower asks its leader for a read index (linearizable reads on followers). */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'read-index';
  readonly requestId: number;
}

export interface ReadIndexResponse extends Envelope {
  readonly type: 'read-index-response';
  readonly requestId: number;
  /** The commit index the read must wait for, or -1 if the leader could not serve it. */
  readonly index: number;
}

/**
 * One chunk of an InstallSnapshot transfer from the leader. Chunks go out in order with a bounded
 * window; the receiver acknowledges the next offset it expects, which also resumes a transfer.
 * `done` marks the end (it may carry an empty `data`).
 */
export interface SnapshotChunk extends Envelope {
  readonly type: 'snapshot';
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly data: Uint8Array;
  readonly done: boolean;
  /** Sender's sequence number, echoed in the response (stale answers are told apart by it). */
  readonly seq: number;
}

/** A linearizable read that may proceed once the node has applied up to `index`. */
export interface ReadState {
  readonly requestId: number;
  readonly index: number;
}
