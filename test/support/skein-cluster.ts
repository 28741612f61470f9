/**
 * Real `skein server` processes for tests and benchmarks: `startSkeinCluster({ members })` launches
 * 1, 3 or 5 members on free loopback ports with fresh data directories (fsync on), waits until
 * every member answers /ready, and always cleans up — on `stop()`, and by SIGKILL when the test
 * process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/cli/free-ports.ts';

export { freePort };

export interface SkeinClusterOptions {
  readonly members?: 1 | 3 | 5;
  /** Parent of the members' data directories; a fresh temporary directory by default (removed on stop). */
  readonly dataDir?: string;
  /** Raft tick. Default 50 ms, with 10 election ticks: elections after 0.5–1 s. */
  readonly tickMs?: number;
  readonly electionTicks?: number;
  /** Require this bearer token on the API. */
  readonly authToken?: string;
  /** How long to wait for every member to be ready. Default 20 s. */
  readonly startTimeoutMs?: number;
  readonly extraArgs?: readonly string[];
  readonly logLevel?: string;
}

export interface SkeinCluster {
  readonly clientUrls: readonly string[];
  readonly peerAddresses: readonly string[];
  readonly names: readonly string[];
  readonly dataDir: string;
  readonly secretFile: string;
  /** Stop every member (SIGKILL unless `graceful`) and remove a temporary data directory. */
  stop(graceful?: boolean): Promise<void>;
  /** Signal member `i` (SIGKILL by default) and wait until it has exited. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Start member `i` again with the same ports and data directory; waits until it answers /health. */
  restart(i: number): Promise<void>;
  /** SIGSTOP member `i`: it freezes with its sockets open, as in a long GC pause or a stalled VM. */
  pause(i: number): void;
  /** SIGCONT member `i` after `pause`. */
  resume(i: number): void;
  /** True while member `i`'s process runs. */
  alive(i: number): boolean;
  /** The last lines member `i` wrote (for failure messages). */
  logTail(i: number): string;
  /** Exit code of member `i`'s last process (null while running or when killed by a signal). */
  exitCode(i: number): number | null;
  /** Launch an extra `skein server` with these arguments (after `server`); killed by stop(). */
  spawnExtra(args: readonly string[]): { process: ChildProcess; log: () => string };
}

const BIN = fileURLToPath(new URL('../../bin/skein.mjs', import.meta.url));
const live = new Set<ChildProcess>();
let exitHook = false;

/** Keep the last 200 lines a child writes (stdout and stderr) in `lines`, for failure messages. */
function captureLines(child: ChildProcess, lines: string[]): void {
  const keep = (data: Buffer): void => {
    lines.push(
      ...data
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== ''),
    );
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
}

export async function startSkeinCluster(options: SkeinClusterOptions = {}): Promise<SkeinCluster> {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const count = options.members ?? 3;
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'skein-cluster-'));
  const secretFile = join(dataDir, 'secret');
  writeFileSync(secretFile, 'test-cluster-secret-0123456789abcdef\n', { mode: 0o600 });
  const tokenFile = join(dataDir, 'token');
  if (options.authToken !== undefined) writeFileSync(tokenFile, options.authToken, { mode: 0o600 });
  const names = Array.from({ length: count }, (_, i) => `m${i + 1}`);
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < count; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
  }
  const peerAddresses = peerPorts.map((p) => `127.0.0.1:${p}`);
  const clientUrls = clientPorts.map((p) => `http://127.0.0.1:${p}`);
  const initialCluster = names.map((n, i) => `${n}=${peerAddresses[i]}`).join(',');
  const children: (ChildProcess | null)[] = names.map(() => null);
  const logs: string[][] = names.map(() => []);
  const exitCodes: (number | null)[] = names.map(() => null);
  const extras: ChildProcess[] = [];

  const args = (i: number): string[] => [
    BIN,
    'server',
    '--name',
    names[i]!,
    '--data-dir',
    join(dataDir, names[i]!),
    '--listen-client',
    `127.0.0.1:${clientPorts[i]}`,
    '--listen-peer',
    peerAddresses[i]!,
    ...(count > 1 ? ['--initial-cluster', initialCluster] : []),
    '--cluster-secret-file',
    secretFile,
    '--tick-ms',
    String(options.tickMs ?? 50),
    '--election-ticks',
    String(options.electionTicks ?? 10),
    '--log-level',
    options.logLevel ?? 'warn',
    ...(options.authToken !== undefined ? ['--auth-token-file', tokenFile] : []),
    ...(options.extraArgs ?? []),
  ];
  const launch = (i: number): void => {
    const child = spawn(process.execPath, args(i), { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    children[i] = child;
    captureLines(child, logs[i]!);
    exitCodes[i] = null;
    child.once('exit', (code) => {
      exitCodes[i] = code;
      live.delete(child);
      if (children[i] === child) children[i] = null;
    });
  };
  const waitFor = async (i: number, path: string, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const answer = await fetch(`${clientUrls[i]}${path}`, { signal: AbortSignal.timeout(1000) });
        if (answer.ok) return;
      } catch {
        // not listening yet
      }
      if (children[i] === null)
        throw new Error(`member ${names[i]} exited while starting:\n${logs[i]!.join('\n')}`);
      if (Date.now() > deadline)
        throw new Error(`member ${names[i]} not ready in ${timeoutMs} ms:\n${logs[i]!.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const child = children[i];
    if (child === null || child === undefined) return;
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        resolve();
      }),
    );
    child.kill(signal);
    // A stopped process takes no signal but SIGKILL until it is continued.
    if (signal !== 'SIGKILL') child.kill('SIGCONT');
    await exited;
  };
  const signalMember = (i: number, signal: NodeJS.Signals): void => {
    const child = children[i];
    if (child === null || child === undefined) throw new Error(`member ${names[i]} is not running`);
    child.kill(signal);
  };
  const stop = async (graceful = false): Promise<void> => {
    for (const extra of extras) extra.kill('SIGKILL');
    await Promise.all(names.map((_, i) => kill(i, graceful ? 'SIGTERM' : 'SIGKILL')));
    if (temporary) rmSync(dataDir, { recursive: true, force: true });
  };

  names.forEach((_, i) => {
    launch(i);
  });
  try {
    await Promise.all(names.map((_, i) => waitFor(i, '/ready', options.startTimeoutMs ?? 20_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    clientUrls,
    peerAddresses,
    names,
    dataDir,
    secretFile,
    stop,
    kill,
    restart: async (i) => {
      await kill(i);
      launch(i);
      await waitFor(i, '/health', options.startTimeoutMs ?? 20_000);
    },
    pause: (i) => {
      signalMember(i, 'SIGSTOP');
    },
    resume: (i) => {
      signalMember(i, 'SIGCONT');
    },
    alive: (i) => children[i] !== null,
    logTail: (i) => logs[i]!.join('\n'),
    exitCode: (i) => exitCodes[i] ?? null,
    spawnExtra: (extraArgs) => {
      const child = spawn(process.execPath, [BIN, 'server', ...extraArgs], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      live.add(child);
      extras.push(child);
      const lines: string[] = [];
      captureLines(child, lines);
      child.once('exit', () => live.delete(child));
      return { process: child, log: () => lines.join('\n') };
    },
  };
}
