/**
 * The two systems `npm run bench:kv` compares, behind one small interface: a real cluster
 * (child processes, fresh data directories, fsync on) plus the client a Node user would use —
 * skein/client for skein, npm `etcd3` for etcd. Both clients talk to the leader: skein's client
 * finds it by itself; etcd3 picks a random host per call, so it is given the leader's URL only
 * (a put sent to an etcd follower costs an extra hop, which would be unfair to etcd).
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { connect } from '../src/client/skein-client.ts';
import { startEtcdCluster } from '../test/support/etcd-cluster.ts';
import { startSkeinCluster } from '../test/support/skein-cluster.ts';
import { childProcesses } from './kv-load.ts';

const PROFILER = fileURLToPath(new URL('./kv-cpu-prof.ts', import.meta.url));

export const SYSTEMS = ['skein', 'etcd'] as const;
export type SystemName = (typeof SYSTEMS)[number];

export interface RunningSystem {
  readonly name: SystemName;
  /** Which member the client talks to, and its process id (for profiles). */
  readonly leader: string;
  put(key: string, value: string): Promise<unknown>;
  /** A linearizable read. */
  get(key: string): Promise<unknown>;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly members: 1 | 3 | 5;
  /** skein only: write a V8 CPU profile per member into this directory (members stop gracefully). */
  readonly cpuProfDir?: string | undefined;
  /** skein only: sockets per member (skein/client's connectionsPerEndpoint); the client's default when unset. */
  readonly skeinConnections?: number | undefined;
  /** skein only: false sends every request over HTTP (skein/client's `rpc` option); default true. */
  readonly skeinRpc?: boolean;
}

export async function startSystem(name: SystemName, options: StartOptions): Promise<RunningSystem> {
  return name === 'skein' ? startSkein(options) : startEtcd(options);
}

async function startSkein(options: StartOptions): Promise<RunningSystem> {
  const profiling = options.cpuProfDir !== undefined;
  const saved = { nodeOptions: process.env['NODE_OPTIONS'], dir: process.env['SKEIN_BENCH_CPU_PROF_DIR'] };
  // The launcher passes extraArgs to `skein server`, not to node, and node refuses --cpu-prof in
  // NODE_OPTIONS: the members preload a module that runs the profiler (see kv-cpu-prof.ts).
  if (options.cpuProfDir !== undefined) {
    mkdirSync(options.cpuProfDir, { recursive: true });
    process.env['SKEIN_BENCH_CPU_PROF_DIR'] = options.cpuProfDir;
    process.env['NODE_OPTIONS'] = `--import tsx --import ${JSON.stringify(PROFILER)}`;
  }
  let cluster;
  try {
    // Profiled members start slowly (a second loader, the profiler): allow them more time.
    cluster = await startSkeinCluster({ members: options.members, startTimeoutMs: 90_000 });
  } finally {
    restoreEnv('NODE_OPTIONS', saved.nodeOptions);
    restoreEnv('SKEIN_BENCH_CPU_PROF_DIR', saved.dir);
  }
  const client = await connect({
    endpoints: cluster.clientUrls,
    ...(options.skeinConnections !== undefined ? { connectionsPerEndpoint: options.skeinConnections } : {}),
    rpc: options.skeinRpc ?? true,
  });
  const status = await client.status();
  const leaderMember = status.members.find((m) => m.id === status.leader);
  const leaderName = leaderMember?.name ?? '?';
  const pid = childProcesses().find((c) => c.cmdline.includes(`--name ${leaderName} `))?.pid;
  return {
    name: 'skein',
    // A client that connected before the leader published its URL starts on a follower and moves
    // to the leader at its first answer (the skein-leader header).
    leader: `${leaderName} at ${leaderMember?.clientUrl || '(URL not published yet)'} (pid ${String(pid)}), client starting at ${client.endpoint}`,
    put: (key, value) => client.put({ key, value }),
    get: (key) => client.get(key),
    stop: async () => {
      await client.close();
      // SIGTERM lets members write their --cpu-prof profiles on the way out.
      await cluster.stop(profiling);
    },
  };
}

async function startEtcd(options: StartOptions): Promise<RunningSystem> {
  const cluster = await startEtcdCluster({ members: options.members });
  let leaderUrl: string;
  const probe = new Etcd3({ hosts: [...cluster.clientUrls] });
  try {
    leaderUrl = await etcdLeaderUrl(probe);
  } finally {
    probe.close();
  }
  const client = new Etcd3({ hosts: [leaderUrl] });
  return {
    name: 'etcd',
    leader: leaderUrl,
    put: (key, value) => client.put(key).value(value).exec(),
    get: (key) => client.get(key).string(),
    stop: async () => {
      client.close();
      await cluster.stop();
    },
  };
}

/** The leader's client URL; retried briefly because a fresh cluster may still be electing. */
async function etcdLeaderUrl(client: Etcd3): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const status = await client.maintenance.status();
    const { members } = await client.cluster.memberList({});
    const leader = members.find((m) => m.ID === status.leader);
    const url = leader?.clientURLs[0];
    if (url !== undefined) return url;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('etcd elected no leader in 5 s');
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value !== undefined) process.env[name] = value;
  else Reflect.deleteProperty(process.env, name);
}
