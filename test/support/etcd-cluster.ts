/**
 * Real etcd processes for tests and benchmarks: `startEtcdCluster({ members })` launches 1, 3 or 5
 * etcd members on free loopback ports (fsync on, as etcd ships), waits until every member answers
 * `/health`, and always cleans up — on `stop()`, and by SIGKILL when the test process exits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/cli/free-ports.ts';

export interface EtcdClusterOptions {
  readonly members?: 1 | 3 | 5;
  /** Parent of the members' data directories; a fresh temporary directory by default (removed on stop). */
  readonly dataDir?: string;
  /** etcd's --heartbeat-interval. Default 50 ms (etcd: 100) so elections and lease minimums are short. */
  readonly heartbeatIntervalMs?: number;
  /** etcd's --election-timeout. Default 500 ms (etcd: 1000); the minimum lease TTL is 1.5× this. */
  readonly electionTimeoutMs?: number;
  /** etcd's --experimental-watch-progress-notify-interval (default 10 minutes in etcd). */
  readonly progressNotifyIntervalMs?: number;
  /** How long to wait for every member to be healthy. Default 15 s. */
  readonly startTimeoutMs?: number;
  readonly extraArgs?: readonly string[];
}

export interface EtcdCluster {
  /** `http://127.0.0.1:<port>` per member, in member order. */
  readonly clientUrls: readonly string[];
  readonly peerUrls: readonly string[];
  readonly dataDir: string;
  /**
   * Stop every member and remove a temporary data directory. SIGKILL: etcd fsyncs every commit, so
   * this is safe, and a graceful stop of a 3-member cluster can take seconds (leader transfer).
   */
  stop(): Promise<void>;
  /** Kill member `i` (SIGKILL by default) and wait until it has exited. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Start member `i` again on the same ports and data directory and wait until it is healthy. */
  restart(i: number): Promise<void>;
  /** The last lines etcd member `i` wrote to stderr (for failure messages). */
  logTail(i: number): string;
}

const MISSING_ETCD =
  "etcd is not installed (no `etcd` on PATH): install Debian's etcd-server (apt-get install etcd-server); .ci/run does it";
const maxLogLines = 200;
const healthPollMs = 25;

const liveProcesses = new Set<ChildProcess>();
/** Temporary data directories to remove if the process ends before stop(). */
const ownedDirs = new Set<string>();
let exitHookInstalled = false;

function killAll(): void {
  for (const child of liveProcesses) child.kill('SIGKILL');
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous on purpose: 'exit' handlers cannot await. SIGKILL leaves no etcd orphan behind.
  process.on('exit', killAll);
  // A signal skips 'exit': kill the members, then let the signal do what it would have done
  // (when nobody else listens for it, re-raising it terminates us as before).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** Throws a SKEIN-style message telling how to install etcd when it is missing. */
export function assertEtcdInstalled(): void {
  const probe = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) throw new Error(MISSING_ETCD);
}

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dir: string;
  child: ChildProcess | null;
  readonly log: string[];
  exited: Promise<void>;
}

async function isHealthy(clientUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await response.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}

/** Start an etcd cluster on loopback. Rejects with a clear message when etcd is missing or will not start. */
export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  assertEtcdInstalled();
  installExitHook();
  const count = options.members ?? 1;
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'skein-etcd-'));
  if (ownsDir) ownedDirs.add(dataDir);
  const members: Member[] = [];
  for (let i = 0; i < count; i++) {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    members.push({
      name: `m${String(i)}`,
      clientUrl: `http://127.0.0.1:${String(clientPort)}`,
      peerUrl: `http://127.0.0.1:${String(peerPort)}`,
      dir: join(dataDir, `m${String(i)}`),
      child: null,
      log: [],
      exited: Promise.resolve(),
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const args = (m: Member): string[] => [
    `--name=${m.name}`,
    `--data-dir=${m.dir}`,
    `--listen-client-urls=${m.clientUrl}`,
    `--advertise-client-urls=${m.clientUrl}`,
    `--listen-peer-urls=${m.peerUrl}`,
    `--initial-advertise-peer-urls=${m.peerUrl}`,
    `--initial-cluster=${initialCluster}`,
    '--initial-cluster-state=new',
    '--initial-cluster-token=skein-test',
    `--heartbeat-interval=${String(options.heartbeatIntervalMs ?? 50)}`,
    `--election-timeout=${String(options.electionTimeoutMs ?? 500)}`,
    `--experimental-watch-progress-notify-interval=${String(options.progressNotifyIntervalMs ?? 600_000)}ms`,
    '--logger=zap',
    '--log-level=warn',
    ...(options.extraArgs ?? []),
  ];

  const launch = (m: Member): void => {
    const child = spawn('etcd', args(m), { stdio: ['ignore', 'ignore', 'pipe'] });
    m.child = child;
    liveProcesses.add(child);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      m.log.push(...chunk.split('\n').filter((line) => line !== ''));
      if (m.log.length > maxLogLines) m.log.splice(0, m.log.length - maxLogLines);
    });
    m.exited = new Promise((resolve) => {
      child.once('exit', () => {
        liveProcesses.delete(child);
        if (m.child === child) m.child = null;
        resolve();
      });
    });
  };

  const waitHealthy = async (m: Member): Promise<void> => {
    const deadline = performance.now() + (options.startTimeoutMs ?? 15_000);
    while (performance.now() < deadline) {
      if (m.child === null)
        throw new Error(`etcd member ${m.name} exited during start:\n${m.log.join('\n')}`);
      if (await isHealthy(m.clientUrl)) return;
      await new Promise((resolve) => setTimeout(resolve, healthPollMs));
    }
    throw new Error(`etcd member ${m.name} not healthy at ${m.clientUrl} in time:\n${m.log.join('\n')}`);
  };

  const stopMember = async (m: Member, signal: NodeJS.Signals): Promise<void> => {
    const child = m.child;
    if (child === null) return;
    child.kill(signal);
    const forced = setTimeout(() => child.kill('SIGKILL'), 2000);
    await m.exited;
    clearTimeout(forced);
  };

  const cluster: EtcdCluster = {
    clientUrls: members.map((m) => m.clientUrl),
    peerUrls: members.map((m) => m.peerUrl),
    dataDir,
    async stop() {
      await Promise.all(members.map((m) => stopMember(m, 'SIGKILL')));
      if (ownsDir) {
        rmSync(dataDir, { recursive: true, force: true });
        ownedDirs.delete(dataDir);
      }
    },
    async kill(i, signal = 'SIGKILL') {
      await stopMember(memberAt(members, i), signal);
    },
    async restart(i) {
      const m = memberAt(members, i);
      if (m.child !== null) throw new Error(`etcd member ${m.name} is still running; kill it first`);
      launch(m);
      await waitHealthy(m);
    },
    logTail: (i) => memberAt(members, i).log.join('\n'),
  };

  try {
    for (const m of members) launch(m);
    await Promise.all(members.map(waitHealthy));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

function memberAt(members: readonly Member[], i: number): Member {
  const m = members[i];
  if (m === undefined) throw new Error(`no etcd member ${String(i)} (cluster has ${String(members.length)})`);
  return m;
}
