import { assert } from '../core/errors.ts';
import type { Random } from '../core/random.ts';
import type { SkeinError } from '../core/errors.ts';
import type { SnapshotMeta } from '../storage/types.ts';
import { RaftErrorCode, raftError } from './errors.ts';
import { RaftLog } from './log.ts';
import { Progress, ProgressState } from './progress.ts';
import {
  allMembers,
  allVoters,
  committedIndex,
  hasQuorum,
  isJoint,
  isMember,
  isVoter,
  voteResult,
  VoteResult,
} from './quorum.ts';
import { ReadIndexTracker, type ReadRequester } from './read-index.ts';
import {
  emptyConfig,
  EntryKind,
  Role,
  type AppendRequest,
  type AppendResponse,
  type ClusterConfig,
  type ConfigChange,
  type Entry,
  type HardState,
  type HeartbeatRequest,
  type NodeId,
  type RaftMessage,
  type ReadState,
  type SnapshotChunk,
  type VoteRequest,
  type VoteResponse,
} from './types.ts';
import { applyConfigChange, type RaftCoreOptions, resolveOptions, type ResolvedOptions } from './config.ts';

/** A batch of work for the driver: persist, send, apply — then call `advance(ready)`. */
export interface Ready {
  /** Set when the node was reset: storage must discard everything before persisting the rest. */
  readonly reset: boolean;
  /** Hard state to persist, when it changed. */
  readonly hardState: HardState | null;
  /** Storage must delete entries with index ≥ this before appending `entries`. */
  readonly truncateFrom: number | null;
  /** Entries to make durable. */
  readonly entries: readonly Entry[];
  /** False when only the commit index changed: no fsync is needed before going on (as etcd's MustSync). */
  readonly mustSync: boolean;
  /** Messages that may be sent at once, in parallel with persisting (leader appends, heartbeats). */
  readonly messagesNow: readonly RaftMessage[];
  /** Messages to send only after `hardState` and `entries` are durable. */
  readonly messagesAfterPersist: readonly RaftMessage[];
  /** Committed, durable entries to apply to the state machine, in order. */
  readonly committedEntries: readonly Entry[];
  /** Linearizable reads that may run once applied ≥ index (index -1: the read failed). */
  readonly readStates: readonly ReadState[];
  /** Followers that need the current snapshot (leader): stream it, then call `reportSnapshot`. */
  readonly snapshotsToSend: readonly NodeId[];
  /** Snapshot chunks received from the leader (follower): store them; install when complete. */
  readonly snapshotChunks: readonly SnapshotChunk[];
}

/** Observable state, for status() and events. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly stableIndex: number;
  readonly clusterId: string;
  readonly config: ClusterConfig;
  readonly leadTransferee: NodeId | null;
}

/** What a proposal turned into. */
export type ProposeResult =
  | { readonly ok: true; readonly firstIndex: number; readonly term: number }
  | { readonly ok: true; readonly forwardedTo: NodeId }
  | { readonly ok: false; readonly error: SkeinError };

/** The initial durable state a node starts from (all empty for a brand-new node). */
export interface RaftInitialState {
  readonly hardState?: HardState;
  readonly entries?: readonly Entry[];
  readonly snapshot?: SnapshotMeta;
}

/**
 * The Raft consensus core: a deterministic state machine with no I/O, in the style of etcd-io/raft.
 * Inputs are `tick()`, `step(message)` and API calls; outputs are collected into a `Ready` that the
 * driver persists, sends and applies before calling `advance`. Implements pre-vote, check-quorum,
 * pipelined replication with flow control, fast log backtracking, ReadIndex and lease reads,
 * leadership transfer, joint consensus with learners, solo and reset.
 */
export class RaftCore {
  readonly id: NodeId;
  readonly #opts: ResolvedOptions;
  readonly #random: Random;
  readonly log: RaftLog;

  #term = 0;
  #vote: NodeId | null = null;
  #clusterId = '';
  #role: Role = Role.Follower;
  #leaderId: NodeId | null = null;
  #config: ClusterConfig = emptyConfig;
  /** Index of the newest config entry in the log that may not be applied yet. */
  #pendingConfigIndex = 0;

  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedElectionTimeout = 0;
  readonly #votes = new Map<NodeId, boolean>();
  readonly #progress = new Map<NodeId, Progress>();
  #leadTransferee: NodeId | null = null;
  /**
   * Set on a leader that a committed change removed (or demoted): it keeps leading until a quorum
   * of the new configuration knows the change committed, then hands over (thesis §4.2.2).
   */
  #leavingAtIndex = 0;
  /** Commit index each follower reported in its last heartbeat response. */
  readonly #reportedCommit = new Map<NodeId, number>();
  /**
   * Members a committed change removed, with the index of that change: the leader keeps feeding
   * them until they report it committed, so they learn they are out (and stop campaigning).
   * Dropped after `departingTimeoutTicks` in case they are gone for good.
   */
  readonly #departing = new Map<NodeId, { index: number; sinceTick: number }>();
  /** Ticks since this node started; heartbeats carry it so lease reads are timed from the send. */
  #ticks = 0;
  /** Per follower: the send tick of the newest heartbeat it acknowledged. */
  readonly #ackedHeartbeatTick = new Map<NodeId, number>();
  readonly #reads = new ReadIndexTracker();
  /** Reads requested before this leader committed an entry of its own term. */
  #readsAwaitingCommit: ReadRequester[] = [];
  /** Commit index last sent to each follower, to send commit-only heartbeats when it moves. */
  readonly #sentCommit = new Map<NodeId, number>();

  #messagesNow: RaftMessage[] = [];
  #messagesAfterPersist: RaftMessage[] = [];
  #readStates: ReadState[] = [];
  #snapshotsToSend: NodeId[] = [];
  #snapshotChunks: SnapshotChunk[] = [];
  /** Configurations by the index that committed them, so a snapshot records the one in force. */
  #configHistory: { index: number; config: ClusterConfig }[] = [];
  #persistedHardState: HardState;
  #resetPending = false;
  /** Index of the newest committed configuration whose commit is not yet durably written (0: none). */
  #configCommitToSync = 0;
  /** The term a sole voter won before its vote was durable; it leads once `advance` sees it written. */
  #winWhenDurableTerm = 0;

  constructor(options: RaftCoreOptions, initial: RaftInitialState = {}) {
    this.id = options.id;
    this.#opts = resolveOptions(options);
    this.#random = options.random;
    const snap = initial.snapshot;
    this.log = new RaftLog(initial.entries ?? [], snap?.index ?? 0, snap?.term ?? 0);
    this.#config = snap?.config ?? emptyConfig;
    this.#configHistory = [{ index: snap?.index ?? 0, config: this.#config }];
    const hs = initial.hardState ?? { term: 0, vote: null, commit: 0, clusterId: '' };
    this.#term = hs.term;
    this.#vote = hs.vote;
    this.#clusterId = hs.clusterId !== '' ? hs.clusterId : (snap?.clusterId ?? '');
    this.#persistedHardState = hs;
    // Rebuild the configuration by replaying committed config entries (config applies at commit).
    this.#commitTo(Math.min(hs.commit, this.log.lastIndex));
    this.log.appliedIndex = Math.max(this.log.appliedIndex, options.appliedIndex ?? 0);
    this.#pendingConfigIndex = this.log.lastIndex;
    this.#resetElectionTimeout();
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs
  // ---------------------------------------------------------------------------------------------

  /** One logical clock tick. The driver calls this every `tickIntervalMs`. */
  tick(): void {
    this.#ticks++;
    this.#electionElapsed++;
    if (this.#role === Role.Leader) {
      this.#tickLeader();
      return;
    }
    if (this.#electionElapsed < this.#randomizedElectionTimeout) return;
    if (this.#promotable()) {
      this.#electionElapsed = 0;
      this.#campaign(this.#opts.preVote ? 'pre-vote' : 'vote', false);
    } else if (this.#leaderId !== null) {
      // A learner (or a member outside the configuration) never campaigns, which is how a follower
      // notices it is cut off. Having heard nothing from its leader for an election timeout, it no
      // longer claims to know one: it refuses what needs a leader instead of waiting on one that
      // may be gone, and its server ends watches that would see no new changes.
      this.#leaderId = null;
    }
  }

  #tickLeader(): void {
    this.#heartbeatElapsed++;
    this.#expireDeparting();
    if (this.#electionElapsed >= this.#opts.electionTicks) {
      this.#electionElapsed = 0;
      if (this.#opts.checkQuorum && !this.#checkQuorumActive()) {
        this.#becomeFollower(this.#term, null);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.#leadTransferee = null;
    }
    if (this.#heartbeatElapsed >= this.#opts.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#broadcastHeartbeat(0);
    }
  }

  /** Feed one message from a peer. Messages from another cluster are dropped. */
  step(m: RaftMessage): void {
    if (m.to !== this.id) return;
    if (m.clusterId !== this.#clusterId && !this.#adoptCluster(m)) return;
    // term 0 marks messages that are not part of the election protocol (forwarded requests).
    if (m.term !== 0) {
      if (m.term > this.#term) {
        if (!this.#acceptHigherTerm(m)) return;
      } else if (m.term < this.#term) {
        this.#rejectStale(m);
        return;
      }
    }
    switch (m.type) {
      case 'pre-vote':
      case 'vote':
        this.#handleVoteRequest(m);
        return;
      case 'pre-vote-response':
      case 'vote-response':
        this.#handleVoteResponse(m);
        return;
      case 'append':
        this.#handleAppend(m);
        return;
      case 'append-response':
        this.#handleAppendResponse(m);
        return;
      case 'heartbeat':
        this.#handleHeartbeat(m);
        return;
      case 'heartbeat-response':
        this.#reportedCommit.set(m.from, m.commit);
        this.#ackedHeartbeatTick.set(m.from, Math.max(this.#ackedHeartbeatTick.get(m.from) ?? 0, m.sentTick));
        this.#handleHeartbeatResponse(m.from, m.readRound);
        this.#maybeForgetDeparted(m.from, m.commit);
        this.#maybeFinishLeaving();
        return;
      case 'timeout-now':
        if (this.#promotable()) this.#campaign('vote', true);
        return;
      case 'propose':
        if (this.#role === Role.Leader) this.propose(m.entries);
        return;
      case 'read-index':
        this.#requestRead({ from: m.from, requestId: m.requestId });
        return;
      case 'read-index-response':
        this.#readStates.push({ requestId: m.requestId, index: m.index });
        return;
      case 'snapshot':
        this.#electionElapsed = 0;
        this.#leaderId = m.from;
        if (this.#role !== Role.Follower) this.#becomeFollower(m.term, m.from);
        this.#snapshotChunks.push(m);
        return;
    }
  }

  /** A node in no cluster with an empty log joins the cluster of the first leader that feeds it. */
  #adoptCluster(m: RaftMessage): boolean {
    const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
    if (this.#clusterId !== '' || !fromLeader || this.log.lastIndex !== 0 || m.clusterId === '') {
      return false;
    }
    this.#clusterId = m.clusterId;
    return true;
  }

  /** Returns false when the message must be ignored. */
  #acceptHigherTerm(m: RaftMessage): boolean {
    if (m.type === 'pre-vote' || m.type === 'vote') {
      // Check-quorum lease: while we hear from a leader, disruptive candidates are ignored.
      const inLease =
        this.#opts.checkQuorum && this.#leaderId !== null && this.#electionElapsed < this.#opts.electionTicks;
      if (inLease && !m.transfer) return false;
      if (m.type === 'pre-vote') return true; // a pre-vote never changes our term
      this.#becomeFollower(m.term, null);
      return true;
    }
    if (m.type === 'pre-vote-response' && m.granted) return true; // its term is our future term
    const fromLeader =
      m.type === 'append' || m.type === 'heartbeat' || m.type === 'timeout-now' || m.type === 'snapshot';
    this.#becomeFollower(m.term, fromLeader ? m.from : null);
    return true;
  }

  #rejectStale(m: RaftMessage): void {
    if (m.type === 'append' || m.type === 'heartbeat') {
      // Tell a deposed leader about the newer term so it steps down (needed with check-quorum and
      // pre-vote, where our term may have moved without the old leader hearing of it).
      this.#send({
        type: 'append-response',
        to: m.from,
        success: false,
        index: 0,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (m.type === 'pre-vote') {
      this.#send({ type: 'pre-vote-response', to: m.from, granted: false });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Elections
  // ---------------------------------------------------------------------------------------------

  /** A method rather than a field read, so the type checker does not assume the role is unchanged. */
  #isLeader(): boolean {
    return this.#role === Role.Leader;
  }

  #promotable(): boolean {
    return isVoter(this.#config, this.id) && this.#clusterId !== '';
  }

  #campaign(kind: 'pre-vote' | 'vote', transfer: boolean): void {
    if (kind === 'pre-vote') {
      this.#role = Role.PreCandidate;
      this.#leaderId = null;
    } else {
      this.#becomeCandidateState();
    }
    this.#votes.clear();
    this.#votes.set(this.id, true);
    if (this.#tallyElection(kind)) return;
    const term = kind === 'pre-vote' ? this.#term + 1 : this.#term;
    for (const peer of allVoters(this.#config)) {
      if (peer === this.id) continue;
      this.#send({
        type: kind,
        to: peer,
        term,
        lastIndex: this.log.lastIndex,
        lastTerm: this.log.lastTerm,
        transfer,
      });
    }
  }

  #becomeCandidateState(): void {
    this.#role = Role.Candidate;
    this.#term++;
    this.#vote = this.id;
    this.#leaderId = null;
    this.#electionElapsed = 0;
    this.#resetElectionTimeout();
  }

  /** Returns true if the election finished (won or lost). */
  #tallyElection(kind: 'pre-vote' | 'vote'): boolean {
    const result = voteResult(this.#config, this.#votes);
    if (result === VoteResult.Won) {
      if (kind === 'pre-vote') this.#campaign('vote', false);
      else if (this.#persistedHardState.term === this.#term && this.#persistedHardState.vote === this.id)
        this.#becomeLeader();
      // A sole voter wins on its own vote, which counts only once it is durable: otherwise a crash
      // could bring it back in the previous term, free to vote for another leader of this one.
      else this.#winWhenDurableTerm = this.#term;
      return true;
    }
    if (result === VoteResult.Lost) {
      this.#becomeFollower(this.#term, null);
      return true;
    }
    return false;
  }

  #handleVoteRequest(m: VoteRequest): void {
    const preVote = m.type === 'pre-vote';
    const canVote =
      this.#vote === m.from ||
      (this.#vote === null && this.#leaderId === null) ||
      (preVote && m.term > this.#term);
    const granted = canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm);
    if (granted && !preVote) {
      this.#vote = m.from;
      this.#electionElapsed = 0;
    }
    this.#send({
      type: preVote ? 'pre-vote-response' : 'vote-response',
      to: m.from,
      // A granted pre-vote answers in the candidate's future term; anything else in ours.
      term: preVote && granted ? m.term : this.#term,
      granted,
      ...this.#committedPrefixFor(m.lastIndex),
    });
  }

  /** What a vote's answer tells the candidate is committed: up to its last index, with our term there. */
  #committedPrefixFor(candidateLastIndex: number): { commit: number; commitTerm: number } {
    const commit = Math.min(this.log.commitIndex, candidateLastIndex);
    return { commit, commitTerm: this.log.term(commit) ?? 0 };
  }

  #handleVoteResponse(m: VoteResponse): void {
    const expected = this.#role === Role.PreCandidate ? 'pre-vote-response' : 'vote-response';
    if (m.type !== expected || (this.#role !== Role.PreCandidate && this.#role !== Role.Candidate)) return;
    this.#learnCommit(m.commit, m.commitTerm);
    if (!this.#promotable()) {
      // What we just learned committed removed us (or made us a learner): no campaign.
      this.#becomeFollower(this.#term, null);
      return;
    }
    this.#votes.set(m.from, m.granted);
    this.#tallyElection(this.#role === Role.PreCandidate ? 'pre-vote' : 'vote');
  }

  /**
   * A voter's commit index, if our entry there has the same term: then our logs agree up to it
   * (log matching) and it is committed. Without this, a node that crashed before its commit of a
   * removal was durable comes back in the joint configuration, needing the vote of the removed
   * member — which refuses it when it holds entries the crash lost, and never campaigns itself:
   * no leader, ever (found by the simulator once commit notices could wait, `commitNoticeDelayMs`;
   * the membership scenario test replays it). The tally that follows counts the votes under the
   * configuration this commit may bring; if that removed us, the campaign ends.
   */
  #learnCommit(commit: number | undefined, commitTerm: number | undefined): void {
    if (typeof commit !== 'number' || typeof commitTerm !== 'number' || commitTerm <= 0) return;
    if (commit <= this.log.commitIndex || commit > this.log.lastIndex) return;
    if (this.log.term(commit) !== commitTerm) return;
    this.#commitTo(commit);
  }

  #becomeFollower(term: number, leaderId: NodeId | null): void {
    const wasLeader = this.#role === Role.Leader;
    if (term !== this.#term) {
      this.#term = term;
      this.#vote = null;
    }
    this.#role = Role.Follower;
    this.#leaderId = leaderId;
    this.#electionElapsed = 0;
    this.#leadTransferee = null;
    this.#leavingAtIndex = 0;
    this.#reportedCommit.clear();
    this.#departing.clear();
    this.#ackedHeartbeatTick.clear();
    this.#resetElectionTimeout();
    if (wasLeader) {
      this.#progress.clear();
      this.#failPendingReads();
    }
  }

  #becomeLeader(): void {
    this.#role = Role.Leader;
    this.#leaderId = this.id;
    this.#leavingAtIndex = 0;
    this.#departing.clear();
    this.#reportedCommit.clear();
    this.#ackedHeartbeatTick.clear();
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#leadTransferee = null;
    this.#progress.clear();
    this.#sentCommit.clear();
    for (const id of allMembers(this.#config)) this.#addProgress(id);
    // Any entry after the commit index might be a config change we cannot see applied yet.
    this.#pendingConfigIndex = this.log.lastIndex;
    this.#appendLocal([{ kind: EntryKind.Noop, data: null }]);
    if (isJoint(this.#config)) this.#appendLocal([{ kind: EntryKind.Config, data: { type: 'leave-joint' } }]);
    this.#broadcastAppend();
  }

  #addProgress(id: NodeId): void {
    const pr = new Progress(this.log.lastIndex + 1);
    if (id === this.id) {
      pr.match = this.log.stableIndex;
      pr.becomeReplicate();
    }
    this.#progress.set(id, pr);
  }

  #checkQuorumActive(): boolean {
    const active = new Set<NodeId>([this.id]);
    for (const [id, pr] of this.#progress) {
      if (pr.recentActive) active.add(id);
      if (id !== this.id) pr.recentActive = false;
    }
    return hasQuorum(this.#config, active);
  }

  #resetElectionTimeout(): void {
    const base = this.#opts.electionTicks;
    this.#randomizedElectionTimeout = base + this.#random.int(base);
  }

  // ---------------------------------------------------------------------------------------------
  // Replication
  // ---------------------------------------------------------------------------------------------

  #appendLocal(items: readonly { readonly kind: EntryKind; readonly data: unknown }[]): number {
    const first = this.log.lastIndex + 1;
    const entries: Entry[] = items.map((item, i) => ({
      index: first + i,
      term: this.#term,
      kind: item.kind,
      data: item.data,
    }));
    this.log.appendLocal(entries);
    for (const e of entries) if (e.kind === EntryKind.Config) this.#pendingConfigIndex = e.index;
    return first;
  }

  #broadcastAppend(): void {
    for (const id of this.#progress.keys()) if (id !== this.id) this.#sendAppend(id);
  }

  /** Send as many appends to `to` as flow control allows (one in probe state). */
  #sendAppend(to: NodeId): void {
    const pr = this.#progress.get(to);
    if (pr === undefined) return;
    const { maxInflightMsgs, maxInflightBytes, maxMsgBytes, entrySizeBytes } = this.#opts;
    for (;;) {
      if (pr.isPaused(maxInflightMsgs, maxInflightBytes)) return;
      const prevIndex = pr.next - 1;
      const prevTerm = this.log.term(prevIndex);
      if (prevTerm === undefined) {
        // The follower needs entries we compacted: it gets the snapshot (streamed by the driver).
        pr.becomeSnapshot(this.log.snapshotIndex);
        this.#snapshotsToSend.push(to);
        return;
      }
      const entries = this.log.slice(pr.next, this.log.lastIndex, maxMsgBytes, entrySizeBytes);
      let bytes = 0;
      for (const e of entries) bytes += entrySizeBytes(e);
      const commit = this.log.commitIndex;
      this.#send({ type: 'append', to, prevIndex, prevTerm, entries, commit });
      this.#sentCommit.set(to, commit);
      pr.sent(prevIndex + entries.length, bytes, entries.length > 0);
      if (pr.state !== ProgressState.Replicate || entries.length === 0 || pr.next > this.log.lastIndex)
        return;
    }
  }

  #broadcastHeartbeat(readRound: number): void {
    for (const [id, pr] of this.#progress) {
      if (id === this.id) continue;
      const commit = Math.min(pr.match, this.log.commitIndex);
      this.#send({ type: 'heartbeat', to: id, commit, readRound, commitOnly: false, sentTick: this.#ticks });
      this.#sentCommit.set(id, commit);
    }
  }

  #handleAppend(m: AppendRequest): void {
    this.#electionElapsed = 0;
    this.#leaderId = m.from;
    if (this.#role !== Role.Follower) this.#becomeFollower(m.term, m.from);
    const reply = (success: boolean, index: number, hintIndex = 0, hintTerm = 0): void => {
      this.#send({ type: 'append-response', to: m.from, success, index, hintIndex, hintTerm });
    };
    if (m.prevIndex < this.log.commitIndex) {
      reply(true, this.log.commitIndex);
      return;
    }
    if (!this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const hintIndex = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex), m.prevTerm);
      reply(false, m.prevIndex, hintIndex, this.log.term(hintIndex) ?? 0);
      return;
    }
    const lastNew = this.log.appendFromLeader(m.prevIndex, m.entries);
    this.#commitTo(Math.min(m.commit, lastNew));
    reply(true, lastNew);
  }

  #handleHeartbeat(m: HeartbeatRequest): void {
    this.#electionElapsed = 0;
    this.#leaderId = m.from;
    if (this.#role !== Role.Follower) this.#becomeFollower(m.term, m.from);
    this.#commitTo(Math.min(m.commit, this.log.lastIndex));
    if (!m.commitOnly) {
      this.#send({
        type: 'heartbeat-response',
        to: m.from,
        readRound: m.readRound,
        commit: this.log.commitIndex,
        sentTick: m.sentTick,
      });
    }
  }

  #handleAppendResponse(m: AppendResponse): void {
    if (this.#role !== Role.Leader) return;
    const pr = this.#progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (!m.success) {
      const hintNext =
        m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm) + 1 : m.hintIndex + 1;
      if (pr.maybeDecrease(m.index, hintNext)) this.#sendAppend(m.from);
      return;
    }
    const wasPaused = pr.isPaused(this.#opts.maxInflightMsgs, this.#opts.maxInflightBytes);
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) pr.snapshotDone(true);
      if (pr.state === ProgressState.Probe) pr.becomeReplicate();
      this.#maybeCommit();
      if (m.from === this.#leadTransferee && pr.match === this.log.lastIndex) {
        this.#send({ type: 'timeout-now', to: m.from });
      }
    }
    if (!this.#isLeader()) return; // committing may have removed us from the configuration
    if (wasPaused || pr.next <= this.log.lastIndex) this.#sendAppend(m.from);
  }

  #handleHeartbeatResponse(from: NodeId, readRound: number): void {
    if (this.#role !== Role.Leader) return;
    const pr = this.#progress.get(from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.match < this.log.lastIndex) this.#sendAppend(from);
    if (readRound > 0) {
      const done = this.#reads.ack(from, readRound, (acks) => hasQuorum(this.#config, acks));
      for (const round of done) this.#completeReads(round.requesters, round.index);
    }
  }

  #maybeCommit(): void {
    const index = committedIndex(this.#config, (id) => this.#progress.get(id)?.match ?? 0);
    // Raft §5.4.2: only entries of the current term are committed by counting replicas.
    if (index > this.log.commitIndex && this.log.term(index) === this.#term) {
      this.#commitTo(index);
      if (this.#readsAwaitingCommit.length > 0) {
        const waiting = this.#readsAwaitingCommit;
        this.#readsAwaitingCommit = [];
        this.#startReadRound(waiting);
      }
    }
  }

  /** Move the commit index forward, applying config entries as they commit. */
  #commitTo(index: number): void {
    for (let i = this.log.commitIndex + 1; i <= index; i++) {
      const e = this.log.entry(i);
      this.log.commitIndex = i;
      if (e?.kind === EntryKind.Config) this.#applyConfig(e.data as ConfigChange, i);
    }
  }

  #applyConfig(change: ConfigChange, index: number): void {
    const next = applyConfigChange(this.#config, change);
    if (next === null) return; // e.g. a duplicate leave-joint: nothing to do
    this.#configHistory.push({ index, config: next.config });
    // Configurations take effect at commit, and a restart replays them only up to the durable
    // commit index: make that index durable now, or a crash could bring this node back under the
    // previous configuration (needing the vote of a member that has since been removed and reset).
    this.#configCommitToSync = Math.max(this.#configCommitToSync, index);
    // A node catching up replays configurations from before it joined: only a change that
    // removes a current member means "you were removed".
    const wasMember = isMember(this.#config, this.id);
    this.#config = next.config;
    if (next.clusterId !== undefined) this.#clusterId = next.clusterId;
    if (this.#role === Role.Leader) {
      for (const id of allMembers(this.#config)) if (!this.#progress.has(id)) this.#addProgress(id);
      for (const id of this.#progress.keys()) {
        if (!isMember(this.#config, id) && id !== this.id && !this.#departing.has(id)) {
          this.#departing.set(id, { index: this.log.commitIndex, sinceTick: this.#ticks });
        }
      }
      if (!isMember(this.#config, this.id)) this.#progress.delete(this.id);
      if (isJoint(this.#config) && this.#pendingConfigIndex <= this.log.commitIndex) {
        // Joint consensus committed: leave it automatically.
        this.#appendLocal([{ kind: EntryKind.Config, data: { type: 'leave-joint' } }]);
        this.#broadcastAppend();
      }
    }
    if (this.#role === Role.Leader && !isVoter(this.#config, this.id)) {
      this.#leavingAtIndex = this.log.commitIndex;
      this.#maybeFinishLeaving();
    } else if (wasMember && !isMember(this.#config, this.id)) {
      this.#leaderId = null;
    }
  }

  /**
   * A leader that its own change removed stays in charge until a quorum of the new configuration
   * has reported the commit (so they can elect without the old members), then hands leadership
   * to the most up-to-date voter and steps down. A removed node never campaigns again but keeps
   * answering vote requests, which voters still in the joint configuration may need.
   */
  #maybeFinishLeaving(): void {
    if (this.#leavingAtIndex === 0 || this.#role !== Role.Leader) return;
    const informed = new Set<NodeId>();
    for (const [id, commit] of this.#reportedCommit) if (commit >= this.#leavingAtIndex) informed.add(id);
    if (!hasQuorum(this.#config, informed)) return;
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const id of allVoters(this.#config)) {
      const match = this.#progress.get(id)?.match ?? 0;
      if (id !== this.id && match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    if (best !== null && bestMatch === this.log.lastIndex) this.#send({ type: 'timeout-now', to: best });
    this.#becomeFollower(this.#term, null);
  }

  /** A removed member that reported the change committed no longer needs feeding. */
  #maybeForgetDeparted(id: NodeId, commit: number): void {
    const departing = this.#departing.get(id);
    if (departing === undefined || commit < departing.index || isMember(this.#config, id)) return;
    this.#departing.delete(id);
    this.#progress.delete(id);
    this.#sentCommit.delete(id);
  }

  #expireDeparting(): void {
    for (const [id, d] of this.#departing) {
      if (
        this.#ticks - d.sinceTick > departingTimeoutTicks(this.#opts.electionTicks) ||
        isMember(this.#config, id)
      ) {
        this.#departing.delete(id);
        if (!isMember(this.#config, id)) this.#progress.delete(id);
      }
    }
  }

  /** True while this node leads only to hand over after its own removal. */
  get leaving(): boolean {
    return this.#leavingAtIndex !== 0;
  }

  // ---------------------------------------------------------------------------------------------
  // API
  // ---------------------------------------------------------------------------------------------

  /** Propose entries. On a follower they are forwarded to the leader. */
  propose(items: readonly { readonly kind: EntryKind; readonly data: unknown }[]): ProposeResult {
    if (this.#clusterId === '' || !isMember(this.#config, this.id) || this.#leavingAtIndex !== 0) {
      return { ok: false, error: raftError(RaftErrorCode.NotMember, 'cannot propose') };
    }
    if (this.#role !== Role.Leader) {
      if (this.#leaderId === null)
        return { ok: false, error: raftError(RaftErrorCode.NoLeader, 'cannot propose') };
      this.#send({ type: 'propose', to: this.#leaderId, term: 0, entries: items });
      return { ok: true, forwardedTo: this.#leaderId };
    }
    if (this.#leadTransferee !== null) {
      return { ok: false, error: raftError(RaftErrorCode.LeadershipTransferInProgress, 'proposal refused') };
    }
    if (this.log.lastIndex - this.log.commitIndex + items.length > this.#opts.maxUncommittedEntries) {
      return { ok: false, error: raftError(RaftErrorCode.Overloaded, 'proposal refused') };
    }
    const configItems = items.filter((i) => i.kind === EntryKind.Config);
    if (configItems.length > 0) {
      const error = this.#validateConfigChange(configItems);
      if (error !== null) return { ok: false, error };
    }
    const firstIndex = this.#appendLocal(items);
    this.#broadcastAppend();
    if (allVoters(this.#config).length === 1) this.#maybeCommit();
    return { ok: true, firstIndex, term: this.#term };
  }

  #validateConfigChange(items: readonly { readonly data: unknown }[]): SkeinError | null {
    if (items.length > 1)
      return raftError(RaftErrorCode.InvalidConfigChange, 'one config change per proposal');
    if (this.#pendingConfigIndex > this.log.commitIndex || isJoint(this.#config)) {
      return raftError(RaftErrorCode.ConfigChangeInProgress, 'membership change refused');
    }
    const change = items[0]!.data as ConfigChange;
    if (change.type !== 'enter-joint') {
      return raftError(
        RaftErrorCode.InvalidConfigChange,
        `a proposed change must be enter-joint, not ${change.type}`,
      );
    }
    if (Object.keys(change.voters).length === 0) {
      return raftError(RaftErrorCode.InvalidConfigChange, 'a configuration needs at least one voter');
    }
    for (const id of [...Object.keys(change.voters), ...Object.keys(change.learners)]) {
      if (this.#config.removed.includes(id)) {
        return raftError(RaftErrorCode.NodeIdReused, `node ${id} was removed from this cluster`);
      }
    }
    for (const id of Object.keys(change.voters)) {
      // Promoting a learner requires it to have caught up, so the change cannot stall commits.
      const pr = this.#progress.get(id);
      if (Object.hasOwn(this.#config.learners, id) && pr !== undefined) {
        if (this.log.lastIndex - pr.match > this.#opts.maxLearnerLagEntries) {
          return raftError(
            RaftErrorCode.LearnerNotCaughtUp,
            `learner ${id} is ${this.log.lastIndex - pr.match} entries behind`,
          );
        }
      }
    }
    return null;
  }

  /** Request a linearizable read; the answer arrives as a ReadState with `requestId`. */
  readIndex(requestId: number): void {
    this.#requestRead({ from: null, requestId });
  }

  #requestRead(requester: ReadRequester): void {
    if (this.#role !== Role.Leader) {
      if (requester.from === null && this.#leaderId !== null) {
        this.#send({ type: 'read-index', to: this.#leaderId, term: 0, requestId: requester.requestId });
      } else {
        this.#completeReads([requester], -1);
      }
      return;
    }
    // A new leader does not know the commit index until it has committed an entry of its term.
    if (this.log.term(this.log.commitIndex) !== this.#term) {
      this.#readsAwaitingCommit.push(requester);
      return;
    }
    this.#startReadRound([requester]);
  }

  #startReadRound(requesters: ReadRequester[]): void {
    const index = this.log.commitIndex;
    if (this.#leaseValid() || allVoters(this.#config).length === 1) {
      this.#completeReads(requesters, index);
      return;
    }
    const round = this.#reads.start(index, requesters, this.id);
    this.#broadcastHeartbeat(round);
  }

  /**
   * Lease reads: a follower that received a heartbeat sent at tick t refuses to vote for anyone
   * else until its own election timeout passes, which is at least `electionTicks` after t. So once
   * a quorum acknowledged heartbeats sent at or after t, no other leader can exist before
   * t + electionTicks — less a safety margin for clocks that run at different rates.
   */
  #leaseValid(): boolean {
    if (this.#opts.readMode !== 'lease' || !this.#opts.checkQuorum) return false;
    const validFrom = this.#ticks - (this.#opts.electionTicks - this.#opts.leaseMarginTicks);
    const fresh = new Set<NodeId>([this.id]);
    for (const [id, tick] of this.#ackedHeartbeatTick) if (tick > validFrom) fresh.add(id);
    return hasQuorum(this.#config, fresh);
  }

  #completeReads(requesters: readonly ReadRequester[], index: number): void {
    for (const r of requesters) {
      if (r.from === null || r.from === this.id) this.#readStates.push({ requestId: r.requestId, index });
      else this.#send({ type: 'read-index-response', to: r.from, term: 0, requestId: r.requestId, index });
    }
  }

  #failPendingReads(): void {
    for (const round of this.#reads.clear()) this.#completeReads(round.requesters, -1);
    this.#completeReads(this.#readsAwaitingCommit, -1);
    this.#readsAwaitingCommit = [];
  }

  /** Hand leadership to `target` (leader only). Proposals are refused until it completes or times out. */
  transferLeadership(target: NodeId): SkeinError | null {
    if (this.#role !== Role.Leader) return raftError(RaftErrorCode.NotLeader, 'cannot transfer leadership');
    if (target === this.id) return null;
    if (!isVoter(this.#config, target)) {
      return raftError(RaftErrorCode.InvalidConfigChange, `transfer target ${target} is not a voter`);
    }
    this.#leadTransferee = target;
    this.#electionElapsed = 0;
    const pr = this.#progress.get(target)!;
    if (pr.match === this.log.lastIndex) this.#send({ type: 'timeout-now', to: target });
    else this.#sendAppend(target);
    return null;
  }

  /** Campaign now (operators and tests); a no-op for nodes that cannot vote. */
  campaign(): void {
    if (this.#promotable() && this.#role !== Role.Leader)
      this.#campaign(this.#opts.preVote ? 'pre-vote' : 'vote', false);
  }

  /**
   * UNSAFE operator action for a quorum lost for good (like etcd's --force-new-cluster): discard
   * uncommitted entries, make this node the only voter of a new cluster (fresh cluster id, so the
   * old members cannot interfere) and lead it. Committed data is kept.
   */
  solo(address: string): void {
    this.log.truncateUncommitted();
    this.#term++;
    this.#vote = this.id;
    const clusterId = this.#newClusterId();
    const change: ConfigChange = { type: 'replace', voters: { [this.id]: address }, learners: {}, clusterId };
    const index = this.#appendLocal([{ kind: EntryKind.Config, data: change }]);
    this.#commitTo(index);
    this.#becomeLeader();
    if (allVoters(this.#config).length === 1) this.#maybeCommit();
  }

  /** Leave a cluster in which this node is the only voter (no agreement is needed). */
  leaveSolo(): SkeinError | null {
    const voters = allVoters(this.#config);
    if (voters.length !== 1 || voters[0] !== this.id || this.#role !== Role.Leader) {
      return raftError(
        RaftErrorCode.InvalidConfigChange,
        'leaveSolo needs a single-voter cluster led by this node',
      );
    }
    const change: ConfigChange = { type: 'replace', voters: {}, learners: {}, clusterId: '' };
    this.#commitTo(this.#appendLocal([{ kind: EntryKind.Config, data: change }]));
    return null;
  }

  /** Wipe a detached node's history so it can join another cluster. */
  reset(): SkeinError | null {
    if (isMember(this.#config, this.id) || this.#role === Role.Leader) {
      return raftError(RaftErrorCode.NotDetached, 'cannot reset');
    }
    this.log.clear();
    this.#term = 0;
    this.#vote = null;
    this.#config = emptyConfig;
    this.#configHistory = [{ index: 0, config: emptyConfig }];
    this.#configCommitToSync = 0;
    this.#clusterId = '';
    this.#pendingConfigIndex = 0;
    this.#becomeFollower(0, null);
    this.#resetPending = true;
    return null;
  }

  /** Bootstrap a brand-new cluster identically on every initial member (entry 1, committed). */
  bootstrap(voters: Readonly<Record<NodeId, string>>, clusterId: string): void {
    assert(this.log.lastIndex === 0 && this.#term === 0, 'bootstrap needs an empty node');
    const change: ConfigChange = { type: 'replace', voters, learners: {}, clusterId };
    this.log.appendLocal([{ index: 1, term: 1, kind: EntryKind.Config, data: change }]);
    this.#term = 1;
    this.#commitTo(1);
    this.#pendingConfigIndex = 1;
  }

  #newClusterId(): string {
    const parts: string[] = [];
    for (let i = 0; i < 4; i++) parts.push(this.#random.nextUint32().toString(16).padStart(8, '0'));
    return parts.join('');
  }

  /** The configuration in force at `index` (for snapshot metadata). */
  configAt(index: number): ClusterConfig {
    let config = this.#configHistory[0]?.config ?? emptyConfig;
    for (const h of this.#configHistory) {
      if (h.index > index) break;
      config = h.config;
    }
    return config;
  }

  /**
   * A durable snapshot covers the log up to `snapshotIndex`: drop applied entries up to
   * `compactIndex` (≤ snapshotIndex; keeping a tail lets slightly-behind followers catch up from
   * the log instead of a whole snapshot).
   */
  compact(compactIndex: number): void {
    const index = Math.min(compactIndex, this.log.appliedIndex);
    if (index <= this.log.snapshotIndex) return;
    this.log.compactTo(index);
    // Keep only the configuration history that a future snapshot could still need.
    let keepFrom = 0;
    for (let i = 0; i < this.#configHistory.length; i++)
      if (this.#configHistory[i]!.index <= index) keepFrom = i;
    this.#configHistory = this.#configHistory.slice(keepFrom);
  }

  /**
   * The leader's snapshot was received, made durable and restored into the state machine:
   * adopt it as the log's new base. Returns false for a snapshot older than what we have.
   */
  installSnapshot(meta: SnapshotMeta, from: NodeId): boolean {
    if (meta.index <= this.log.commitIndex) return false;
    this.log.restoreSnapshot(meta.index, meta.term);
    this.#config = meta.config;
    this.#configHistory = [{ index: meta.index, config: meta.config }];
    if (this.#clusterId === '') this.#clusterId = meta.clusterId;
    this.#pendingConfigIndex = Math.max(this.#pendingConfigIndex, meta.index);
    this.#send({
      type: 'append-response',
      to: from,
      success: true,
      index: this.log.lastIndex,
      hintIndex: 0,
      hintTerm: 0,
    });
    return true;
  }

  /** The driver finished (or gave up) streaming a snapshot to `to`. */
  reportSnapshot(to: NodeId, succeeded: boolean): void {
    const pr = this.#progress.get(to);
    if (pr?.state !== ProgressState.Snapshot) return;
    pr.snapshotDone(succeeded);
    if (this.#role === Role.Leader) this.#sendAppend(to);
  }

  // ---------------------------------------------------------------------------------------------
  // Output
  // ---------------------------------------------------------------------------------------------

  #send(m: DistributiveOmit<RaftMessage, 'from' | 'clusterId' | 'term'> & { term?: number }): void {
    const full = { term: this.#term, ...m, from: this.id, clusterId: this.#clusterId } as RaftMessage;
    // A leader's replication traffic may go out before its own disk write (thesis §10.2.1), and so
    // may a heartbeat's answer: it acknowledges no entry and no vote, only that we follow this
    // leader (a term adopted here and lost in a crash is harmless: we did not vote in it, and any
    // majority that could commit in an older term includes a voter that persisted the new one).
    // Holding it behind an fdatasync would let one slow disk write on a follower depose a healthy
    // leader by check-quorum. Appends' and votes' answers do depend on durable state and wait.
    const early =
      full.type === 'append' ||
      full.type === 'heartbeat' ||
      full.type === 'heartbeat-response' ||
      full.type === 'timeout-now' ||
      full.type === 'propose' ||
      full.type === 'read-index' ||
      full.type === 'read-index-response';
    if (early) this.#messagesNow.push(full);
    else this.#messagesAfterPersist.push(full);
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.log.commitIndex, clusterId: this.#clusterId };
  }

  #hardStateChanged(): boolean {
    const a = this.#persistedHardState;
    return (
      a.term !== this.#term ||
      a.vote !== this.#vote ||
      a.commit !== this.log.commitIndex ||
      a.clusterId !== this.#clusterId
    );
  }

  /** Send commit-only heartbeats to followers whose known commit index is behind. */
  #propagateCommit(): void {
    if (this.#role !== Role.Leader) return;
    const commit = this.log.commitIndex;
    for (const [id, pr] of this.#progress) {
      if (id === this.id) continue;
      const target = Math.min(pr.match, commit);
      if ((this.#sentCommit.get(id) ?? 0) < target) {
        this.#send({
          type: 'heartbeat',
          to: id,
          commit: target,
          readRound: 0,
          commitOnly: true,
          sentTick: this.#ticks,
        });
        this.#sentCommit.set(id, target);
      }
    }
  }

  hasReady(): boolean {
    return (
      this.#resetPending ||
      this.#messagesNow.length > 0 ||
      this.#messagesAfterPersist.length > 0 ||
      this.#readStates.length > 0 ||
      this.#snapshotsToSend.length > 0 ||
      this.#snapshotChunks.length > 0 ||
      this.log.stableIndex < this.log.lastIndex ||
      this.log.truncatedFrom !== null ||
      this.#durableHardStateChanged() ||
      this.log.appliedIndex < Math.min(this.log.commitIndex, this.log.stableIndex) ||
      (this.#role === Role.Leader && this.#commitBehindSomewhere())
    );
  }

  /**
   * Whether a part of the hard state that must be durable changed: term, vote, cluster id, or a
   * commit index that committed a configuration. The commit index alone is not worth a
   * write of its own: it is volatile in Raft (a restarted node learns it again from the leader, or
   * commits an entry of its new term), so it rides along with the next write that must happen
   * anyway. A commit-only write would hold the next batch of entries back by a disk round trip.
   */
  #durableHardStateChanged(): boolean {
    const a = this.#persistedHardState;
    return (
      a.term !== this.#term ||
      a.vote !== this.#vote ||
      a.clusterId !== this.#clusterId ||
      a.commit < this.#configCommitToSync
    );
  }

  #commitBehindSomewhere(): boolean {
    const commit = this.log.commitIndex;
    for (const [id, pr] of this.#progress) {
      if (id !== this.id && (this.#sentCommit.get(id) ?? 0) < Math.min(pr.match, commit)) return true;
    }
    return false;
  }

  /** Collect the pending work. Call `advance(ready)` once it has been carried out. */
  ready(): Ready {
    this.#propagateCommit();
    const entries = this.log.unstableEntries();
    const mustSync =
      this.#resetPending ||
      entries.length > 0 ||
      this.log.truncatedFrom !== null ||
      this.#durableHardStateChanged();
    const ready: Ready = {
      reset: this.#resetPending,
      mustSync,
      // A changed commit index is written only with a write that must happen anyway (see #durableHardStateChanged).
      hardState: (mustSync && this.#hardStateChanged()) || this.#resetPending ? this.#hardState() : null,
      truncateFrom: this.log.truncatedFrom,
      entries,
      messagesNow: this.#messagesNow,
      messagesAfterPersist: this.#messagesAfterPersist,
      committedEntries: this.log.entriesToApply(this.#opts.maxApplyEntries),
      readStates: this.#readStates,
      snapshotsToSend: this.#snapshotsToSend,
      snapshotChunks: this.#snapshotChunks,
    };
    this.#snapshotsToSend = [];
    this.#snapshotChunks = [];
    this.#messagesNow = [];
    this.#messagesAfterPersist = [];
    this.#readStates = [];
    this.#resetPending = false;
    this.log.truncatedFrom = null;
    return ready;
  }

  /**
   * Whether {@link readyWithoutPersist} has anything: work that needs no write of its own, which
   * a driver may carry out while a Ready's write is still in flight.
   */
  hasReadyWithoutPersist(): boolean {
    return (
      this.#messagesNow.length > 0 ||
      this.#readStates.length > 0 ||
      this.#snapshotsToSend.length > 0 ||
      this.log.appliedIndex < Math.min(this.log.commitIndex, this.log.stableIndex) ||
      (this.#role === Role.Leader && this.#commitBehindSomewhere())
    );
  }

  /**
   * The part of the pending work that needs nothing more to be durable, for a driver whose
   * previous Ready is still being written: messages that may go out before a write (a leader's
   * appends and heartbeats, commit propagation), committed entries that are already durable here,
   * read states and snapshots to send. No entries, no hard state, no messages that must wait for a
   * write: those stay for the next `ready()`. Call `advance` with it like with any Ready.
   *
   * This is what keeps a leader committing and applying while its own fdatasync runs: followers'
   * acknowledgements that arrive meanwhile commit earlier batches, which apply at once instead of
   * after the write.
   */
  readyWithoutPersist(): Ready {
    this.#propagateCommit();
    const ready: Ready = {
      reset: false,
      mustSync: false,
      hardState: null,
      truncateFrom: null,
      entries: [],
      messagesNow: this.#messagesNow,
      messagesAfterPersist: [],
      committedEntries: this.log.entriesToApply(this.#opts.maxApplyEntries),
      readStates: this.#readStates,
      snapshotsToSend: this.#snapshotsToSend,
      snapshotChunks: [],
    };
    this.#messagesNow = [];
    this.#readStates = [];
    this.#snapshotsToSend = [];
    return ready;
  }

  /** The driver has persisted, sent and applied `ready`. */
  advance(ready: Ready): void {
    if (ready.hardState !== null) this.#persistedHardState = ready.hardState;
    if (
      this.#winWhenDurableTerm === this.#term &&
      this.#role === Role.Candidate &&
      this.#persistedHardState.term === this.#term &&
      this.#persistedHardState.vote === this.id
    ) {
      this.#winWhenDurableTerm = 0;
      this.#becomeLeader();
    }
    const lastPersisted = ready.entries.at(-1);
    if (lastPersisted !== undefined && this.log.term(lastPersisted.index) === lastPersisted.term) {
      // Entries may have been overwritten while this batch was being written: only a prefix that
      // is still in our log counts as stable.
      this.log.stableIndex = Math.max(this.log.stableIndex, lastPersisted.index);
    }
    const lastApplied = ready.committedEntries.at(-1);
    if (lastApplied !== undefined) this.log.appliedIndex = Math.max(this.log.appliedIndex, lastApplied.index);
    if (this.#role === Role.Leader) {
      const self = this.#progress.get(this.id);
      if (self !== undefined && self.maybeUpdate(this.log.stableIndex)) this.#maybeCommit();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Introspection
  // ---------------------------------------------------------------------------------------------

  get role(): Role {
    return this.#role;
  }
  get term(): number {
    return this.#term;
  }
  get leaderId(): NodeId | null {
    return this.#leaderId;
  }
  get config(): ClusterConfig {
    return this.#config;
  }
  get clusterId(): string {
    return this.#clusterId;
  }
  get vote(): NodeId | null {
    return this.#vote;
  }

  /** The leader's view of a member's replication progress (undefined on followers). */
  progressOf(id: NodeId): { match: number; next: number; state: ProgressState } | undefined {
    const pr = this.#progress.get(id);
    return pr === undefined ? undefined : { match: pr.match, next: pr.next, state: pr.state };
  }

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.#role,
      term: this.#term,
      leaderId: this.#leaderId,
      commitIndex: this.log.commitIndex,
      appliedIndex: this.log.appliedIndex,
      lastIndex: this.log.lastIndex,
      stableIndex: this.log.stableIndex,
      clusterId: this.#clusterId,
      config: this.#config,
      leadTransferee: this.#leadTransferee,
    };
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** How long a leader keeps feeding removed members that have not acknowledged their removal. */
function departingTimeoutTicks(electionTicks: number): number {
  return 10 * electionTicks;
}
