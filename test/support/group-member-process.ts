/**
 * Group members in a process of their own, for multi-process tests and benchmarks. Run directly:
 *
 *   node --conditions=skein-source --import tsx test/support/group-member-process.ts \
 *     --endpoints http://127.0.0.1:8420,http://127.0.0.1:8421 --group workers --id w1 \
 *     [--heartbeat-ms 1000] [--ttl-s 3] [--settle-ms 5000] [--strategy sticky] \
 *     [--count 1] [--join-concurrency 32]
 *
 * or launch it with {@link spawnMemberProcess}. Each member joins through skein/membership's
 * `joinGroup` (the code a user runs) over one shared skein/client. With `--count N` the members
 * are `<id>-1 … <id>-N`; `--group a,b,c` spreads them round-robin over several groups. Every line
 * on stdout is one JSON object:
 *
 *   {"event":"assignment","t":<Date.now()>,"group","member","index","total","generation"}
 *        a change of the member's indexTotal() (index, total, generation null: it has none)
 *   {"event":"ready","members":N,"joinMs":…}     every join answered
 *   {"event":"stats","heartbeats","errors","p50Ms","p99Ms","maxMs","cpuUs","wallMs"}
 *        the answer to `stats`
 *
 * stdin takes one command per line: `reset` starts a new measurement window (heartbeat round
 * trips and this process's CPU), `stats` prints the window so far, `leave` leaves every group and
 * exits. The process exits when its stdin closes (its parent died), so no member outlives a test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '../../src/client/skein-client.ts';
import {
  isAssignmentStrategy,
  joinGroup,
  type GroupCoordinator,
  type GroupMember,
  type IndexTotal,
} from '../../src/membership/index.ts';

/** A change of one member's `indexTotal()`, stamped with the member process's wall clock. */
export interface AssignmentLine {
  readonly event: 'assignment';
  readonly t: number;
  readonly group: string;
  readonly member: string;
  readonly index: number | null;
  readonly total: number | null;
  readonly generation: number | null;
}

export interface ReadyLine {
  readonly event: 'ready';
  readonly members: number;
  readonly joinMs: number;
}

/** Heartbeats of a measurement window: round trips as the members saw them, and the process's CPU. */
export interface StatsLine {
  readonly event: 'stats';
  readonly heartbeats: number;
  readonly errors: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  readonly cpuUs: number;
  readonly wallMs: number;
}

export interface MemberProcessOptions {
  readonly endpoints: readonly string[];
  /** One group, or several (members spread round-robin). */
  readonly groups: readonly string[];
  /** The member's id; with `count` > 1 the members are `<id>-1 … <id>-<count>`. */
  readonly id: string;
  readonly count?: number;
  readonly heartbeatMs?: number;
  readonly ttlSeconds?: number;
  readonly settleMs?: number;
  readonly strategy?: 'sticky' | 'join-order';
  readonly joinConcurrency?: number;
}

const SELF = fileURLToPath(import.meta.url);
/** Assignment lines a {@link MemberProcess} keeps, at most (the newest are kept). */
const MAX_HISTORY = 100_000;

/** A running member process, seen from its parent. Emits 'assignment' for every change reported. */
export class MemberProcess extends EventEmitter<{ assignment: [AssignmentLine] }> {
  readonly child: ChildProcess;
  /** Every assignment line so far, oldest first (bounded by MAX_HISTORY). */
  readonly history: AssignmentLine[] = [];
  /** The newest assignment line of each member of this process. */
  readonly latest = new Map<string, AssignmentLine>();
  /** Resolves when every member has joined; rejects if the process exits first. */
  readonly ready: Promise<ReadyLine>;
  readonly #stderr: string[] = [];
  readonly #exited: Promise<void>;
  #pendingStats: ((line: StatsLine) => void)[] = [];

  /** @internal use {@link spawnMemberProcess} */
  constructor(child: ChildProcess) {
    super();
    this.child = child;
    this.#exited = new Promise((resolve) =>
      child.once('exit', () => {
        resolve();
      }),
    );
    let onReady: (line: ReadyLine) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      onReady = resolve;
      void this.#exited.then(() => {
        reject(new Error(`member process exited before it was ready:\n${this.stderrTail()}`));
      });
    });
    this.ready.catch(() => undefined); // a caller that never awaits it must not crash the parent
    child.stdin?.on('error', () => undefined); // EPIPE once the process is gone: exit reports it
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: AssignmentLine | ReadyLine | StatsLine;
      try {
        line = JSON.parse(text) as AssignmentLine | ReadyLine | StatsLine;
      } catch {
        this.#keepOutput(text); // not ours (a library's notice): keep it for failure messages
        return;
      }
      if (line.event === 'assignment') {
        this.history.push(line);
        if (this.history.length > MAX_HISTORY) this.history.shift();
        this.latest.set(line.member, line);
        this.emit('assignment', line);
      } else if (line.event === 'ready') {
        onReady(line);
      } else {
        for (const resolve of this.#pendingStats.splice(0)) resolve(line);
      }
    });
    createInterface({ input: child.stderr! }).on('line', (text) => {
      this.#keepOutput(text);
    });
  }

  #keepOutput(text: string): void {
    this.#stderr.push(text);
    if (this.#stderr.length > 50) this.#stderr.shift();
  }

  /**
   * When `line`'s member first reported `line`'s assignment at or after `sinceMs` (its wall clock):
   * a member cut off for a moment reports the same assignment again later, which is not when it got it.
   */
  firstReported(line: AssignmentLine, sinceMs: number): number {
    const first = this.history.find(
      (l) =>
        l.member === line.member &&
        l.t >= sinceMs &&
        l.index === line.index &&
        l.total === line.total &&
        l.generation === line.generation,
    );
    return first?.t ?? line.t;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Start a new measurement window. */
  reset(): void {
    this.child.stdin?.write('reset\n');
  }

  /** The current window's heartbeat latencies and CPU; rejects if the process exits first. */
  stats(): Promise<StatsLine> {
    const answer = new Promise<StatsLine>((resolve) => this.#pendingStats.push(resolve));
    const exited = this.#exited.then(() => {
      throw new Error(`member process exited:\n${this.stderrTail()}`);
    });
    this.child.stdin?.write('stats\n');
    return Promise.race([answer, exited]);
  }

  /** Send `signal` (kill -9 by default) and wait until the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.#exited;
  }

  /** Leave every group (sessions revoked) and wait for the process to exit. */
  async leave(): Promise<void> {
    this.child.stdin?.end('leave\n');
    await this.#exited;
  }

  stderrTail(): string {
    return this.#stderr.join('\n');
  }
}

/**
 * The moment the last of `lines` (newest lines of members of `processes`) was first reported at or
 * after `sinceMs`: when every one of those members had the assignment it has now.
 */
export function allReportedAt(
  processes: readonly MemberProcess[],
  lines: readonly AssignmentLine[],
  sinceMs: number,
): number {
  let at = Number.NEGATIVE_INFINITY;
  for (const line of lines) {
    const owner = processes.find((p) => p.latest.get(line.member) === line);
    at = Math.max(at, owner?.firstReported(line, sinceMs) ?? line.t);
  }
  return at;
}

/** Launch a member process (see the file comment); its members start joining at once. */
export function spawnMemberProcess(options: MemberProcessOptions): MemberProcess {
  const optional = (flag: string, value: number | string | undefined): string[] =>
    value === undefined ? [] : [flag, String(value)];
  const args = [
    '--conditions=skein-source',
    '--import',
    'tsx',
    SELF,
    '--endpoints',
    options.endpoints.join(','),
    '--group',
    options.groups.join(','),
    '--id',
    options.id,
    ...optional('--count', options.count),
    ...optional('--heartbeat-ms', options.heartbeatMs),
    ...optional('--ttl-s', options.ttlSeconds),
    ...optional('--settle-ms', options.settleMs),
    ...optional('--strategy', options.strategy),
    ...optional('--join-concurrency', options.joinConcurrency),
  ];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  return new MemberProcess(child);
}

// ---------------------------------------------------------------------------------------------
// The process itself.

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} takes a positive integer, got ${text}`);
  return n;
}

function print(line: AssignmentLine | ReadyLine | StatsLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Heartbeat round trips of one window; bounded (10 minutes at 2,000 heartbeats/s fit). */
class HeartbeatWindow {
  static readonly MAX_SAMPLES = 1_200_000;
  samplesMs: number[] = [];
  errors = 0;
  startedAt = performance.now();
  cpu = process.cpuUsage();

  record(ms: number): void {
    if (this.samplesMs.length < HeartbeatWindow.MAX_SAMPLES) this.samplesMs.push(ms);
  }

  stats(): StatsLine {
    const sorted = [...this.samplesMs].sort((a, b) => a - b);
    const at = (q: number): number | null =>
      sorted.length === 0 ? null : round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    const cpu = process.cpuUsage(this.cpu);
    return {
      event: 'stats',
      heartbeats: sorted.length,
      errors: this.errors,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: at(1),
      cpuUs: cpu.user + cpu.system,
      wallMs: round(performance.now() - this.startedAt),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      endpoints: { type: 'string' },
      group: { type: 'string' },
      id: { type: 'string' },
      'heartbeat-ms': { type: 'string', default: '1000' },
      'ttl-s': { type: 'string' },
      'settle-ms': { type: 'string' },
      strategy: { type: 'string' },
      count: { type: 'string', default: '1' },
      'join-concurrency': { type: 'string', default: '32' },
    },
  });
  const { endpoints, group, id, strategy } = values;
  if (endpoints === undefined || group === undefined || id === undefined) {
    throw new Error('--endpoints, --group and --id are required');
  }
  if (strategy !== undefined && !isAssignmentStrategy(strategy)) {
    throw new Error('--strategy is sticky or join-order');
  }
  const groups = group.split(',');
  const count = positiveInt('--count', values.count);
  const joinOptions = {
    heartbeatIntervalMs: positiveInt('--heartbeat-ms', values['heartbeat-ms']),
    ...(values['ttl-s'] !== undefined ? { sessionTtlSeconds: positiveInt('--ttl-s', values['ttl-s']) } : {}),
    ...(values['settle-ms'] !== undefined
      ? { settleMs: positiveInt('--settle-ms', values['settle-ms']) }
      : {}),
    ...(strategy !== undefined ? { strategy } : {}),
  };

  let window = new HeartbeatWindow();
  const client = await connect({ endpoints: endpoints.split(','), requestTimeoutMs: 10_000 });
  // skein/client with every heartbeat's round trip timed; the member code is the user's.
  const coordinator: GroupCoordinator = {
    grantLease: (ttlSeconds) => client.grantLease(ttlSeconds),
    revokeLease: (lease) => client.revokeLease(lease),
    joinGroupMember: (request) => client.joinGroupMember(request),
    groupHeartbeat: async (request, timeoutMs) => {
      const started = performance.now();
      try {
        const status = await client.groupHeartbeat(request, timeoutMs);
        window.record(performance.now() - started);
        return status;
      } catch (error) {
        window.errors++;
        throw error;
      }
    },
  };

  const members: GroupMember[] = [];
  const shutdown = async (leave: boolean): Promise<void> => {
    if (leave) await Promise.all(members.map((m) => m.leave()));
    await client.close().catch(() => undefined);
    process.exit(0);
  };
  // Listen before joining: a parent that dies during a long join still ends this process.
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    const command = line.trim();
    if (command === 'reset') window = new HeartbeatWindow();
    else if (command === 'stats') print(window.stats());
    else if (command === 'leave') void shutdown(true);
  });
  commands.on('close', () => void shutdown(false));

  const report = (member: GroupMember, it: IndexTotal | null): void => {
    const { group: g, id: m } = member;
    const [index, total, generation] = it === null ? [null, null, null] : [it.index, it.total, it.generation];
    print({ event: 'assignment', t: Date.now(), group: g, member: m, index, total, generation });
  };
  const joinStarted = performance.now();
  let next = 0;
  const joiner = async (): Promise<void> => {
    while (next < count) {
      const k = next++;
      const memberId = count === 1 ? id : `${id}-${k + 1}`;
      const member = await joinGroup(coordinator, groups[k % groups.length]!, { memberId, ...joinOptions });
      members.push(member);
      member.on('settled', (it) => {
        report(member, it);
      });
      member.on('settling', () => {
        report(member, null);
      });
      member.on('error', () => undefined); // counted in the window; the member keeps trying
      const now = member.indexTotal();
      if (now !== null) report(member, now);
    }
  };
  const joinConcurrency = positiveInt('--join-concurrency', values['join-concurrency']);
  await Promise.all(Array.from({ length: Math.min(joinConcurrency, count) }, joiner));
  print({ event: 'ready', members: members.length, joinMs: Math.round(performance.now() - joinStarted) });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SELF) {
  await main();
}
