import type { RaftStatus } from '../raft/raft.ts';
import type { KvSummary } from './kv-state-machine.ts';
import { freePorts, spawnMember, type MemberProcess } from './member-process.ts';

/** What `status` returns over IPC. */
export type MemberStatus = RaftStatus & {
  readonly kv: KvSummary;
  readonly transport: {
    readonly msgsSent: number;
    readonly msgsReceived: number;
    readonly socketWrites: number;
    readonly bytesReceived: number;
    readonly msgsDropped: number;
  };
  /** CPU used by the member process so far (user + system), µs. */
  readonly cpuUs: number;
};

/** Options of {@link startProcessCluster}. */
export interface ProcessClusterOptions {
  readonly ids: readonly string[];
  /** Secret per member id; default: one shared secret. */
  readonly secretOf?: (id: string) => string;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly requestTimeoutMs?: number;
  readonly logLevel?: string;
  /** Extra node flags per member (e.g. `--cpu-prof`). */
  readonly nodeArgs?: (id: string) => readonly string[];
  /** A data directory per member (FileStorage, fsync on); absent: in memory. */
  readonly dataDirOf?: (id: string) => string;
}

export const DEFAULT_TEST_SECRET = 'skein-process-cluster-secret-0123456789';

/**
 * A cluster of `skein raft-node` processes on 127.0.0.1, all listed as initial voters. For tests
 * and benchmarks: call {@link ProcessCluster.stop} in a finally/after hook so no child outlives them.
 */
export class ProcessCluster {
  readonly members = new Map<string, MemberProcess>();

  private constructor(members: Map<string, MemberProcess>) {
    this.members = members;
  }

  static async start(options: ProcessClusterOptions): Promise<ProcessCluster> {
    const ports = await freePorts(options.ids.length);
    const peers = options.ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
    const members = new Map<string, MemberProcess>();
    options.ids.forEach((id, i) => {
      const args = [
        ...['--id', id, '--listen', `127.0.0.1:${ports[i]}`, '--peers', peers],
        ...[
          '--tick-ms',
          String(options.tickMs ?? 50),
          '--election-ticks',
          String(options.electionTicks ?? 10),
        ],
        ...['--request-timeout-ms', String(options.requestTimeoutMs ?? 5000)],
        ...['--log-level', options.logLevel ?? 'info'],
        ...(options.dataDirOf === undefined ? [] : ['--data-dir', options.dataDirOf(id)]),
      ];
      const env = { SKEIN_CLUSTER_SECRET: options.secretOf?.(id) ?? DEFAULT_TEST_SECRET };
      members.set(id, spawnMember({ args, env, nodeArgs: options.nodeArgs?.(id) ?? [] }));
    });
    const cluster = new ProcessCluster(members);
    try {
      await Promise.all([...members.values()].map((m) => m.ready()));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  member(id: string): MemberProcess {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  live(): [string, MemberProcess][] {
    return [...this.members].filter(([, m]) => !m.exited);
  }

  async status(id: string): Promise<MemberStatus> {
    return (await this.member(id).request({ cmd: 'status' })) as MemberStatus;
  }

  /**
   * Poll the live members until one leads and a majority of the configured voters (counting the
   * leader) name it, in the leader's term. Resolves with the leader's id.
   */
  async waitForLeader(
    timeoutMs = 15_000,
    among: readonly string[] = [...this.members.keys()],
  ): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const statuses = await Promise.all(
        this.live()
          .filter(([id]) => among.includes(id))
          .map(([, m]) =>
            m.request({ cmd: 'status' }).then(
              (s) => s as MemberStatus,
              () => null,
            ),
          ),
      );
      const leader = statuses.find((s) => s?.role === 'leader');
      if (leader !== undefined && leader !== null) {
        const agree = statuses.filter((s) => s?.leaderId === leader.id && s.term === leader.term).length;
        if (agree > this.members.size / 2) return leader.id;
      }
      if (performance.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stop every member: SIGKILL, since tests and benches own no state worth a graceful exit. */
  async stop(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.kill('SIGKILL')));
  }
}
