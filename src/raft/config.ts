import type { Random } from '../core/random.ts';
import type { ClusterConfig, ConfigChange, Entry, NodeId } from './types.ts';
import { allMembers } from './quorum.ts';

/** Options of the pure Raft core. Times are in ticks; the driver maps ticks to milliseconds. */
export interface RaftCoreOptions {
  readonly id: NodeId;
  /** Seeded randomness for election timeouts and cluster ids. */
  readonly random: Random;
  /** Minimum election timeout; the actual one is uniform in [electionTicks, 2·electionTicks). Default 10. */
  readonly electionTicks?: number;
  /** Leader heartbeat period. Default 1. */
  readonly heartbeatTicks?: number;
  /** Pre-vote (thesis §9.6): a partitioned node cannot inflate terms and depose a healthy leader. Default true. */
  readonly preVote?: boolean;
  /** Check-quorum: a leader without quorum contact for an election timeout steps down. Default true. */
  readonly checkQuorum?: boolean;
  /**
   * `read-index` (default) confirms leadership with a heartbeat round per batch of reads.
   * `lease` answers from the leader at once, assuming clocks run at similar rates: a new leader
   * cannot be elected before every voter's election timeout has passed since it last heard from
   * this leader, and that must outlast this leader's belief in its lease. Requires checkQuorum.
   */
  readonly readMode?: 'read-index' | 'lease';
  /**
   * Lease reads stop this many ticks before the earliest moment another leader could be elected,
   * to absorb clock-rate differences between members. Default 2 (must be < electionTicks).
   */
  readonly leaseMarginTicks?: number;
  /** Appends in flight to one follower before the leader waits for acknowledgements. Default 256. */
  readonly maxInflightMsgs?: number;
  /** Bytes in flight to one follower before the leader waits. Default 32 MiB. */
  readonly maxInflightBytes?: number;
  /** Largest append message (at least one entry is always sent). Default 1 MiB. */
  readonly maxMsgBytes?: number;
  /** Entries handed to the state machine per Ready. Default 4096. */
  readonly maxApplyEntries?: number;
  /** Uncommitted entries a leader accepts before refusing proposals with SKEIN_OVERLOADED. Default 65536. */
  readonly maxUncommittedEntries?: number;
  /** How far behind a learner may be and still be promoted. Default 1000 entries. */
  readonly maxLearnerLagEntries?: number;
  /** Size estimate of an entry for flow control. Default: byte length of binary data, else 64. */
  readonly entrySizeBytes?: (entry: Entry) => number;
  /** Applied index the state machine already holds (from a snapshot), so entries are not re-applied. */
  readonly appliedIndex?: number;
}

export type ResolvedOptions = Required<Omit<RaftCoreOptions, 'random' | 'appliedIndex'>>;

export function defaultEntrySizeBytes(entry: Entry): number {
  const data = entry.data;
  if (data instanceof Uint8Array) return data.byteLength + 24;
  if (typeof data === 'string') return data.length + 24;
  return 64;
}

export function resolveOptions(o: RaftCoreOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    id: o.id,
    electionTicks: o.electionTicks ?? 10,
    heartbeatTicks: o.heartbeatTicks ?? 1,
    preVote: o.preVote ?? true,
    checkQuorum: o.checkQuorum ?? true,
    readMode: o.readMode ?? 'read-index',
    leaseMarginTicks: o.leaseMarginTicks ?? 2,
    maxInflightMsgs: o.maxInflightMsgs ?? 256,
    maxInflightBytes: o.maxInflightBytes ?? 32 * 1024 * 1024,
    maxMsgBytes: o.maxMsgBytes ?? 1024 * 1024,
    maxApplyEntries: o.maxApplyEntries ?? 4096,
    maxUncommittedEntries: o.maxUncommittedEntries ?? 65536,
    maxLearnerLagEntries: o.maxLearnerLagEntries ?? 1000,
    entrySizeBytes: o.entrySizeBytes ?? defaultEntrySizeBytes,
  };
  if (resolved.leaseMarginTicks < 0 || resolved.leaseMarginTicks >= resolved.electionTicks) {
    throw new RangeError(
      `leaseMarginTicks (${resolved.leaseMarginTicks}) must be in [0, electionTicks (${resolved.electionTicks}))`,
    );
  }
  if (resolved.heartbeatTicks >= resolved.electionTicks) {
    throw new RangeError(
      `heartbeatTicks (${resolved.heartbeatTicks}) must be smaller than electionTicks (${resolved.electionTicks})`,
    );
  }
  return resolved;
}

/**
 * Apply a committed config change to a configuration. Returns null when the change is a no-op
 * (a second leave-joint). Ids that leave the configuration are remembered in `removed` so they are
 * never reused for a different history.
 */
export function applyConfigChange(
  config: ClusterConfig,
  change: ConfigChange,
): { config: ClusterConfig; clusterId?: string } | null {
  switch (change.type) {
    case 'enter-joint':
      return {
        config: withRemoved(config, {
          voters: change.voters,
          outgoing: config.voters,
          learners: change.learners,
          removed: config.removed,
        }),
      };
    case 'leave-joint':
      if (Object.keys(config.outgoing).length === 0) return null;
      return { config: withRemoved(config, { ...config, outgoing: {} }) };
    case 'replace':
      return {
        config: withRemoved(config, {
          voters: change.voters,
          outgoing: {},
          learners: change.learners,
          removed: config.removed,
        }),
        clusterId: change.clusterId,
      };
  }
}

function withRemoved(before: ClusterConfig, after: ClusterConfig): ClusterConfig {
  const still = new Set(allMembers(after));
  const gone = allMembers(before).filter((id) => !still.has(id) && !after.removed.includes(id));
  // A member is never listed as removed (solo makes a removed node the voter of a new cluster).
  const removed = [...after.removed.filter((id) => !still.has(id)), ...gone];
  return removed.length === after.removed.length && gone.length === 0 ? after : { ...after, removed };
}
