/**
 * The public types of {@link RaftNode}: its options, status, events and the user's hooks
 * (processors, snapshot state machine). Kept apart from the driver so that either can be read
 * without the other.
 */
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import type { Random } from '../core/random.ts';
import type { RaftStorage } from '../storage/types.ts';
import type { Transport } from '../transport/types.ts';
import type { RaftCoreOptions } from './config.ts';
import type { RaftStatus } from './raft.ts';
import type { SnapshotTransferStatus } from './snapshot-transfer.ts';
import type { ClusterConfig, NodeId } from './types.ts';

/** A user function that applies one committed command. It must be deterministic and synchronous. */
export type Processor = (params: unknown) => unknown;

/**
 * Snapshot support for the user's state machine. With it, the log is compacted behind periodic
 * snapshots and new or lagging members catch up from a snapshot; without it, the log grows forever.
 */
export interface SnapshotStateMachine {
  /**
   * Capture the state as of the last applied command. Called synchronously right after that
   * command was applied, so it must take a point-in-time view now (serialize eagerly, or
   * copy-on-write) even if it returns a stream that is read later. A synchronous iterable may
   * encode each chunk as it is read: the node reads it in slices of a few milliseconds, with a
   * turn of the event loop between slices.
   */
  snapshot(): Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  /** Replace the whole state with the snapshot streamed in `chunks`. */
  restore(chunks: AsyncIterable<Uint8Array>): Promise<void> | void;
}

/** Node status: the core's view plus snapshot information. */
export interface RaftNodeStatus extends RaftStatus {
  /** Index of the newest durable snapshot (0 when none). */
  readonly snapshotIndex: number;
  /** Snapshot transfers in progress, with bytes acknowledged so far. */
  readonly snapshotTransfers: readonly SnapshotTransferStatus[];
}

/** How {@link RaftNode.enqueue} proposes a command. */
export interface EnqueueOptions {
  /**
   * Propose only while this node leads in exactly this term; otherwise reject with
   * SKEIN_NOT_LEADER instead of forwarding to the leader. For commands decided from leader-only
   * state (the lease clock), which another leader must not carry out on this one's stale view.
   */
  readonly leaderTerm?: number;
}

/** Options for {@link RaftNode.create}. */
export interface RaftNodeOptions extends Omit<RaftCoreOptions, 'id' | 'random' | 'appliedIndex'> {
  /** This node's id; never reused for a different history within a cluster. */
  readonly id: NodeId;
  /** Where this node listens for peers ("host:port"); recorded in the configuration. */
  readonly address: string;
  /**
   * The initial voters (including this node) of a brand-new cluster, id → address. Omit to start
   * detached and call `solo()` or be attached by a member. Ignored when storage holds state.
   */
  readonly peers?: Readonly<Record<NodeId, string>>;
  /** Identity of a bootstrapped cluster; every initial member must use the same. Default derived from `peers`. */
  readonly clusterId?: string;
  /** Action name → function applying it. */
  readonly processors: Readonly<Record<string, Processor>>;
  readonly transport: Transport;
  /** Default: in-memory (lost when the process exits). */
  readonly storage?: RaftStorage;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  /** Milliseconds per core tick. Default 100 (so elections time out after 1–2 s by default). */
  readonly tickIntervalMs?: number;
  /** How long `enqueue`, `read` and membership calls wait before SKEIN_TIMEOUT. Default 5000. */
  readonly requestTimeoutMs?: number;
  /** Commands waiting for their entry to apply on this node. Default 100000. */
  readonly maxPendingRequests?: number;
  /**
   * Largest encoded command accepted by `enqueue`. Default 1 MiB; it must stay below the
   * transport's `maxFrameBytes` so that every entry can be replicated.
   */
  readonly maxCommandBytes?: number;
  /** Request ids remembered to drop duplicated proposals. Default 100000. */
  readonly dedupeWindow?: number;
  /** Snapshot and restore the state machine; enables log compaction and snapshot catch-up. */
  readonly stateMachine?: SnapshotStateMachine;
  /** Take a snapshot after this many applied entries. Default 10000. */
  readonly snapshotEveryEntries?: number;
  /** ...or after this many applied command bytes, whichever comes first. Default 64 MiB. */
  readonly snapshotEveryBytes?: number;
  /**
   * ...but only once the commands applied since the last snapshot add up to this fraction of that
   * snapshot's size. A snapshot rewrites the whole state: without this, a 55 MB store would be
   * rewritten every 10,000 small writes, some 18 times more bytes than the log it replaces. With
   * 0.5, snapshots cost at most twice the log's bytes, and the log kept in memory and replayed at
   * restart stays under half the state's size. Default 0.5; 0 snapshots on the counts above alone.
   */
  readonly snapshotMinLogToStateRatio?: number;
  /** Entries kept in the log behind a snapshot for followers that are only a little behind. Default 1000. */
  readonly keepEntriesAfterSnapshot?: number;
  /** Size of one InstallSnapshot chunk. Default 1 MiB (keep it below the transport's maxFrameBytes). */
  readonly snapshotChunkBytes?: number;
  /**
   * Unacknowledged snapshot chunks per transfer. Default 8: as fast as 16 on loopback (4 was 10%
   * slower, `bench:snapshot`), and at most 8 MiB queued ahead of the heartbeats to that member.
   */
  readonly maxSnapshotChunksInFlight?: number;
  /** A snapshot transfer with no answer for this long is abandoned and retried. Default: one election timeout. */
  readonly snapshotResponseTimeoutMs?: number;
  /**
   * How the driver batches inputs before processing them. Default `setImmediate`, which
   * coalesces a burst of messages into one disk write; the simulator passes a virtual timer.
   */
  readonly defer?: (fn: () => void) => void;
  /**
   * How long a commit-only heartbeat may wait for an append to carry the commit index instead.
   * Under a steady stream of writes this wakes each follower once per write instead of twice.
   * Followers that forwarded a proposal or asked for a read index are told at once; watches and
   * serializable reads on the others see a commit up to this much later. Default 5; 0 sends every
   * notice on the next turn of the event loop.
   */
  readonly commitNoticeDelayMs?: number;
}

/** A command as it was applied: where it sits in the log and what it asked for. */
export interface AppliedCommand {
  readonly index: number;
  readonly term: number;
  readonly action: string;
  readonly params: unknown;
}

/** Events emitted by a RaftNode. */
export interface RaftNodeEvents {
  role: [role: RaftStatus['role'], term: number];
  leader: [leaderId: NodeId | null, term: number];
  configuration: [config: ClusterConfig];
  /** A command was applied (on every member, in log order); `result` is the processor's return. */
  applied: [command: AppliedCommand, result: unknown];
  /** A command's processor threw (or its action is unknown here); the node carries on. */
  'apply-error': [command: AppliedCommand, error: unknown];
  error: [error: unknown];
}
