/**
 * A simulated skein coordination cluster for group-membership tests: three members on a
 * {@link RaftSimulation}, each with the replicated {@link CoordinationState} and the leader-side
 * {@link LeaseExpiry} and {@link GroupSettler} (as a server attaches them), plus a
 * {@link GroupCoordinator} per group member that reaches the cluster over a simulated link and does
 * on the leader what the HTTP routes of group-routes.ts do. The real `GroupMember` runs against it
 * on the simulation's virtual clock.
 */
import { SkeinError } from '../core/errors.ts';
import { silentLogger } from '../core/log.ts';
import type { Random } from '../core/random.ts';
import type { LeaseGrantResponse } from '../kv/types.ts';
import type { GroupCoordinator } from '../membership/member.ts';
import { type GroupChange, type GroupJoinRequest, type MemberStatus } from '../membership/index.ts';
import type { RaftNode } from '../raft/node.ts';
import { RaftSimulation } from '../testing/raft-sim.ts';
import { CoordinationState } from './coordination-state.ts';
import { GroupSettler } from './group-settler.ts';
import { unwrapError } from './http-errors.ts';
import { heartbeatOnLeader, joinThroughLog } from './group-ops.ts';
import { LeaseExpiry } from './lease-expiry.ts';

export const SIM_TICK_MS = 10;
export const SIM_ELECTION_TICKS = 10;
/** Longest leaderless gap after a crash here: randomized election timeouts stay below 2 × 10 ticks (× 3 for split votes). */
export const SIM_MAX_ELECTION_MS = 2 * SIM_ELECTION_TICKS * SIM_TICK_MS * 3;

/** One settle as a replica applied it: the assignment the group committed under `generation`. */
export interface CommittedSettle {
  readonly group: string;
  readonly generation: number;
  /** member id → index, and the group's size. */
  readonly assignment: ReadonlyMap<string, number>;
  readonly total: number;
  /** Virtual time the first replica applied it (no member can have seen it earlier). */
  readonly firstAppliedAtMs: number;
  /** The change it settled, and when the first replica applied that change. */
  readonly changeSeq: number;
  readonly changeAppliedAtMs: number;
}

/** Options of {@link GroupsCluster}. */
export interface GroupsClusterOptions {
  /** Snapshot every this many applied entries (default: the node's, rarely reached in a test). */
  readonly snapshotEveryEntries?: number;
}

/** Three coordination-service members with the leader-side clocks attached, on virtual time. */
export class GroupsCluster {
  readonly sim: RaftSimulation;
  /** Every settle any replica applied, by generation (replicas must agree on each). */
  readonly settles = new Map<number, CommittedSettle>();
  /**
   * Broken invariants of the replicated groups: replicas disagreeing on a generation's assignment,
   * or a settle applied less than the settle period after the change it settles. Stays empty.
   */
  readonly violations: string[] = [];
  /** changeSeq → virtual time the first replica applied that change. */
  readonly #changedAtMs = new Map<number, number>();
  /** When the last change (join, leave, expiry) was first applied. */
  lastChangeAtMs = Number.NEGATIVE_INFINITY;
  readonly #states = new Map<string, CoordinationState>();
  readonly #expiries = new Map<string, LeaseExpiry>();
  readonly #settlers = new Map<string, GroupSettler>();

  constructor(seed: number, options: GroupsClusterOptions = {}) {
    const { snapshotEveryEntries } = options;
    this.sim = new RaftSimulation({
      seed,
      faults: { minDelayMs: 1, maxDelayMs: 5 },
      nodeOptions: {
        tickIntervalMs: SIM_TICK_MS,
        electionTicks: SIM_ELECTION_TICKS,
        // Frequent snapshots with a short log behind them: restarted members catch up by snapshot.
        ...(snapshotEveryEntries === undefined ? {} : { snapshotEveryEntries, keepEntriesAfterSnapshot: 2 }),
      },
      machine: (id) => {
        const state = new CoordinationState();
        this.#states.set(id, state);
        state.onGroupChanges((changes) => {
          for (const change of changes) this.#record(state, change);
        });
        return { processors: state.processors(), stateMachine: state, state };
      },
    });
    this.sim.bootstrap(['a', 'b', 'c']);
    for (const id of this.sim.ids) this.#attach(id);
  }

  get clock(): RaftSimulation['clock'] {
    return this.sim.clock;
  }

  state(id: string): CoordinationState {
    const state = this.#states.get(id);
    if (state === undefined) throw new Error(`no state for ${id}`);
    return state;
  }

  /** The leader-side lease clock of `id`, while it runs. */
  expiry(id: string): LeaseExpiry | undefined {
    return this.#expiries.get(id);
  }

  /** The live leader with the highest term. */
  leader(): RaftNode | undefined {
    return this.sim.leader();
  }

  async waitForLeader(maxMs = 5_000): Promise<RaftNode> {
    if (!(await this.sim.runUntil(() => this.leader() !== undefined, maxMs)))
      throw new Error(`no leader within ${maxMs} ms`);
    return this.leader()!;
  }

  crash(id: string): void {
    this.#expiries.get(id)?.stop();
    this.#settlers.get(id)?.stop();
    this.#expiries.delete(id);
    this.#settlers.delete(id);
    this.sim.crash(id);
  }

  restart(id: string): void {
    this.sim.restart(id);
    this.#attach(id);
  }

  /** Stop every node and clock, so a failed run leaves nothing scheduled. */
  stopAll(): void {
    for (const id of this.sim.ids) if (!this.sim.isDown(id)) this.crash(id);
  }

  #attach(id: string): void {
    const node = this.sim.node(id);
    if (node === undefined) return;
    const state = this.state(id);
    const clock = this.sim.clock;
    this.#expiries.set(id, new LeaseExpiry({ node, store: state.kv, clock, logger: silentLogger }));
    this.#settlers.set(id, new GroupSettler({ node, state, clock, logger: silentLogger }));
  }

  /** Remembers when each change was first applied, and checks and records each settle. */
  #record(state: CoordinationState, change: GroupChange): void {
    const nowMs = this.sim.clock.now();
    if (change.state !== 'SETTLED') {
      if (!this.#changedAtMs.has(change.changeSeq)) {
        this.#changedAtMs.set(change.changeSeq, nowMs);
        this.lastChangeAtMs = nowMs;
      }
      return;
    }
    const group = change.group;
    const view = state.groups.group(group);
    if (view === null || view.total === null) return;
    const assignment = new Map(view.members.map((m) => [m.id, m.index ?? 0]));
    const known = this.settles.get(view.generation);
    if (known === undefined) {
      const changedAtMs = this.#changedAtMs.get(change.changeSeq) ?? Number.NEGATIVE_INFINITY;
      if (nowMs < changedAtMs + change.settleMs) {
        this.violations.push(
          `generation ${view.generation} of ${group} settled ${nowMs - changedAtMs} ms after its change, within its settle period`,
        );
      }
      this.settles.set(view.generation, {
        group,
        generation: view.generation,
        assignment,
        total: view.total,
        firstAppliedAtMs: nowMs,
        changeSeq: change.changeSeq,
        changeAppliedAtMs: changedAtMs,
      });
      return;
    }
    const same =
      known.group === group &&
      known.total === view.total &&
      [...assignment].every(([member, index]) => known.assignment.get(member) === index);
    if (!same) this.violations.push(`replicas disagree on generation ${view.generation} of ${group}`);
  }
}

/** Options of {@link SimCoordinator}. */
export interface SimCoordinatorOptions {
  /** One-way delay between the member and the cluster. Default 1–20 ms. */
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  /** What a call without its own timeout waits before SKEIN_TIMEOUT (the client's default). Default 5000. */
  readonly requestTimeoutMs?: number;
}

/**
 * A member's view of the coordination service: each call travels to the leader the member knows
 * (as the client prefers it, it sticks to a member while that one still believes it leads), runs
 * there what the HTTP route runs, and its answer travels back. `cutOff` loses every request and
 * answer on the way (a partition between this member and the cluster); `reachable` limits the
 * cluster members it can reach.
 */
export class SimCoordinator implements GroupCoordinator {
  /** While true, requests and answers are lost: calls end only by their timeout. */
  cutOff = false;
  /** Cluster members this one can reach (null: all). */
  reachable: ReadonlySet<string> | null = null;
  /** Send time of the last call whose answer arrived (what a member may count on). */
  lastAnsweredSentAtMs = Number.NEGATIVE_INFINITY;
  readonly #cluster: GroupsCluster;
  readonly #random: Random;
  readonly #minDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #requestTimeoutMs: number;
  /** The member it sends to: the leader it last found. */
  #target: string | null = null;

  constructor(cluster: GroupsCluster, random: Random, options: SimCoordinatorOptions = {}) {
    this.#cluster = cluster;
    this.#random = random;
    this.#minDelayMs = options.minDelayMs ?? 1;
    this.#maxDelayMs = options.maxDelayMs ?? 20;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
  }

  async grantLease(ttlSeconds: number): Promise<{ id: number }> {
    const granted = (await this.#call((node) =>
      node.enqueue('lease-grant', { ttlSeconds }),
    )) as LeaseGrantResponse;
    return { id: granted.id };
  }

  revokeLease(id: number): Promise<unknown> {
    return this.#call((node) => node.enqueue('lease-revoke', { id }));
  }

  /** POST /v1/groups/join: the route's own code, on the leader. */
  joinGroupMember(request: GroupJoinRequest): Promise<MemberStatus> {
    return this.#call((node, state) => joinThroughLog(node, state, request));
  }

  /** POST /v1/groups/heartbeat: the route's own code; a follower answers SKEIN_NOT_LEADER. */
  groupHeartbeat(
    request: { group: string; member: string; session: number },
    timeoutMs?: number,
  ): Promise<MemberStatus> {
    return this.#call(async (node, state, leases) => {
      const status = await heartbeatOnLeader(state, leases, request);
      if (status === null)
        throw new SkeinError('SKEIN_NOT_LEADER', 'this member is no longer the leader; retry');
      return status;
    }, timeoutMs);
  }

  /** One request: out over the link, `handle` on the target member, the answer back. */
  #call<T>(
    handle: (node: RaftNode, state: CoordinationState, leases: LeaseExpiry) => Promise<T>,
    timeoutMs = this.#requestTimeoutMs,
  ): Promise<T> {
    const clock = this.#cluster.clock;
    const sentAtMs = clock.now();
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (outcome: () => void): void => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        outcome();
      };
      const timer = clock.setTimeout(() => {
        finish(() => {
          reject(new SkeinError('SKEIN_TIMEOUT', `no answer within ${timeoutMs} ms`));
        });
      }, timeoutMs);
      const answer = (outcome: () => void, succeeded: boolean): void => {
        if (this.cutOff) return;
        clock.setTimeout(() => {
          if (this.cutOff || done) return;
          if (succeeded) this.lastAnsweredSentAtMs = Math.max(this.lastAnsweredSentAtMs, sentAtMs);
          finish(outcome);
        }, this.#delayMs());
      };
      if (this.cutOff) return;
      clock.setTimeout(() => {
        if (this.cutOff) return;
        const target = this.#pickTarget();
        if (typeof target === 'string') {
          answer(() => {
            reject(new SkeinError(target, 'no member that leads could be reached; retry'));
          }, false);
          return;
        }
        // A member that crashed meanwhile took the connection with it: the client sees it fail.
        const crashed = (): boolean => this.#cluster.sim.node(target.node.id) !== target.node;
        const unavailable = (): void => {
          reject(new SkeinError('SKEIN_UNAVAILABLE', 'the connection to the member was lost; retry'));
        };
        handle(target.node, target.state, target.leases).then(
          (value) => {
            if (crashed()) answer(unavailable, false);
            else
              answer(() => {
                resolve(value);
              }, true);
          },
          (error: unknown) => {
            answer(
              crashed()
                ? unavailable
                : () => {
                    const cause = unwrapError(error);
                    reject(cause instanceof Error ? cause : new Error(String(cause)));
                  },
              false,
            );
          },
        );
      }, this.#delayMs());
    });
  }

  /** The member that leads as far as this one can tell, or the error code a client would get. */
  #pickTarget(): { node: RaftNode; state: CoordinationState; leases: LeaseExpiry } | 'SKEIN_NO_LEADER' {
    const cluster = this.#cluster;
    const usable = (id: string | null): boolean =>
      id !== null &&
      (this.reachable === null || this.reachable.has(id)) &&
      cluster.sim.node(id)?.core.role === 'leader' &&
      cluster.expiry(id) !== undefined;
    if (!usable(this.#target)) {
      const leader = cluster.sim.liveNodes().find((n) => usable(n.id) && n === cluster.leader());
      const anyLeader = cluster.sim.liveNodes().find((n) => usable(n.id));
      this.#target = (leader ?? anyLeader)?.id ?? null;
    }
    const id = this.#target;
    if (id === null) return 'SKEIN_NO_LEADER';
    return { node: cluster.sim.node(id)!, state: cluster.state(id), leases: cluster.expiry(id)! };
  }

  #delayMs(): number {
    return this.#minDelayMs + this.#random.next() * (this.#maxDelayMs - this.#minDelayMs);
  }
}
