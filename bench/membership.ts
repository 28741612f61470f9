/**
 * Groups (skein/membership on `skein server`) with real processes: a coordinator of 1 (default) or
 * 3 `skein server` processes, and members in processes of their own (test/support/
 * group-member-process.ts: `joinGroup` over skein/client, the code a user runs).
 *
 *   npm run bench:membership -- [--runs 5] [--members 1|3] [--processes 5]
 *       [--heartbeat-ms 500] [--ttl-s 2] [--settle-ms 1500]
 *       [--load-members 1000] [--load-processes 2] [--load-heartbeat-ms 1000] [--window-ms 15000] [--load-runs 1]
 *       [--groups 100] [--skip-crash] [--skip-load] [--skip-groups]
 *
 * 1. crash→settled: `--processes` members settle; one is killed with -9; measured from the kill to
 *    the moment the LAST survivor reports the new settled assignment (its own wall-clock stamp);
 *    a replacement joins before the next run. Compared with the target TTL + settle + 0.5 s and
 *    bloc's bound TTL + settle + 1 s.
 * 2. load: `--load-members` members of one group heartbeating every `--load-heartbeat-ms`, spread
 *    over `--load-processes` processes, on ONE coordinator process. Over a window of `--window-ms`
 *    after the group settled: the coordinator's CPU (% of one core, /proc/<pid>/stat utime+stime),
 *    its Raft commit index before and after (heartbeats must add no log writes), the heartbeat
 *    round trips the members saw, and the load processes' own CPU.
 * 3. groups: the same members as `--groups` groups of equal size (100 × 10 by default): all settle,
 *    how long it took, and the same window figures.
 * `--load-runs` repeats 2 and 3, each run on a fresh coordinator; the summary gives medians.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  allReportedAt,
  spawnMemberProcess,
  type AssignmentLine,
  type MemberProcess,
  type StatsLine,
} from '../test/support/group-member-process.ts';
import { startSkeinCluster, type SkeinCluster } from '../test/support/skein-cluster.ts';
import { childProcesses } from './kv-load.ts';
import { median } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    members: { type: 'string', default: '1' },
    processes: { type: 'string', default: '5' },
    'heartbeat-ms': { type: 'string', default: '500' },
    'ttl-s': { type: 'string', default: '2' },
    'settle-ms': { type: 'string', default: '1500' },
    'load-members': { type: 'string', default: '1000' },
    'load-processes': { type: 'string', default: '2' },
    'load-heartbeat-ms': { type: 'string', default: '1000' },
    'window-ms': { type: 'string', default: '15000' },
    'load-runs': { type: 'string', default: '1' },
    groups: { type: 'string', default: '100' },
    'skip-crash': { type: 'boolean', default: false },
    'skip-load': { type: 'boolean', default: false },
    'skip-groups': { type: 'boolean', default: false },
  },
});

function int(name: string, min: number): number {
  const n = Number(values[name as keyof typeof values]);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} takes an integer ≥ ${String(min)}`);
  return n;
}
const runs = int('runs', 1);
const coordinatorMembers = int('members', 1);
if (coordinatorMembers !== 1 && coordinatorMembers !== 3) throw new Error('--members is 1 or 3');
const processes = int('processes', 2);
const heartbeatMs = int('heartbeat-ms', 10);
const ttlSeconds = int('ttl-s', 1);
const settleMs = int('settle-ms', 1);
const loadMembers = int('load-members', 1);
const loadProcesses = int('load-processes', 1);
const loadHeartbeatMs = int('load-heartbeat-ms', 10);
const windowMs = int('window-ms', 1000);
const loadRuns = int('load-runs', 1);
const groupCount = int('groups', 1);
if (loadMembers % loadProcesses !== 0 || loadMembers % groupCount !== 0) {
  throw new Error('--load-members must divide evenly by --load-processes and by --groups');
}
// Each load process runs whole groups (or, with one group, a share of it).
if (groupCount > 1 && groupCount % loadProcesses !== 0) {
  throw new Error('--groups must be a multiple of --load-processes');
}
const targetMs = ttlSeconds * 1000 + settleMs + 500;
const blocBoundMs = ttlSeconds * 1000 + settleMs + 1000;
/** The CPU target for the coordinator under the load (% of one core). */
const CPU_TARGET_PCT = 25;
/** The load scenarios' settle period: short, the joins themselves take longer. */
const LOAD_SETTLE_MS = 2000;
/** How long the idle coordinator is measured before the members join. */
const IDLE_WINDOW_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * The newest line of every member of `groups` when each group is settled: `size` members, all at
 * 1..size under one generation. Undefined otherwise.
 */
function settled(
  members: readonly MemberProcess[],
  groups: readonly string[],
  size: number,
): AssignmentLine[] | undefined {
  const byGroup = new Map<string, AssignmentLine[]>(groups.map((g) => [g, []]));
  for (const process of members)
    for (const line of process.latest.values()) byGroup.get(line.group)?.push(line);
  for (const lines of byGroup.values()) {
    if (lines.length !== size || lines.some((l) => l.total !== size || l.index! < 1 || l.index! > size)) {
      return undefined;
    }
    if (new Set(lines.map((l) => l.generation)).size !== 1) return undefined;
    if (new Set(lines.map((l) => l.index)).size !== size) return undefined; // so 1..size, each once
  }
  return [...byGroup.values()].flat();
}

const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

/** Load average and Linux CPU pressure: this machine is shared, say how busy it was. */
function loadLine(): string {
  let pressure = '';
  try {
    const some = /avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (some !== null) pressure = `, CPU pressure (some, 10 s) ${some[1] ?? '?'}%`;
  } catch {
    // no PSI on this kernel
  }
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `load average ${load} (${String(availableParallelism())} cores)${pressure}`;
}

// ---------------------------------------------------------------------------------------------
// 1. crash → settled

interface CrashResult {
  readonly crashToSettledMs: number[];
  readonly joinToSettledMs: number[];
}

async function crashToSettled(): Promise<CrashResult> {
  const cluster = await startSkeinCluster({ members: coordinatorMembers as 1 | 3, startTimeoutMs: 60_000 });
  let live: MemberProcess[] = [];
  let nextId = 1;
  const spawn = (): MemberProcess => {
    const member = spawnMemberProcess({
      endpoints: cluster.clientUrls,
      groups: ['crash'],
      id: `p${String(nextId++)}`,
      heartbeatMs,
      ttlSeconds,
      settleMs,
    });
    live.push(member);
    return member;
  };
  const result: CrashResult = { crashToSettledMs: [], joinToSettledMs: [] };
  try {
    for (let i = 0; i < processes; i++) spawn();
    await Promise.all(live.map((m) => m.ready));
    await until('the group to settle', () => settled(live, ['crash'], processes), 30_000);
    for (let run = 1; run <= runs; run++) {
      const victim = live[run % live.length]!;
      const killedAt = Date.now();
      await victim.kill();
      live = live.filter((m) => m !== victim);
      const after = await until(
        'the survivors to settle',
        () => settled(live, ['crash'], processes - 1),
        blocBoundMs + 20_000,
      );
      const crashMs = allReportedAt(live, after, killedAt) - killedAt;
      result.crashToSettledMs.push(crashMs);
      const newcomer = spawn();
      await newcomer.ready;
      const joinedAt = Date.now();
      const rejoined = await until(
        'the group to settle with a newcomer',
        () => settled(live, ['crash'], processes),
        30_000,
      );
      const joinMs = allReportedAt(live, rejoined, joinedAt) - joinedAt;
      result.joinToSettledMs.push(joinMs);
      console.log(
        `  run ${String(run)}/${String(runs)}: kill -9 → ${String(processes - 1)} survivors settled in ${String(crashMs)} ms ` +
          `(${verdict(crashMs <= targetMs)} target ${String(targetMs)}, ${verdict(crashMs <= blocBoundMs)} bloc ${String(blocBoundMs)}); ` +
          `a replacement's join → settled in ${String(joinMs)} ms`,
      );
    }
  } finally {
    await Promise.all(live.map((m) => m.kill()));
    await cluster.stop();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// 2 and 3. load on one coordinator process

interface LoadResult {
  readonly label: string;
  readonly joinMs: number;
  readonly settleAfterJoinsMs: number;
  readonly coordinatorCpuPct: number;
  /** The same coordinator before any member joined (Raft ticks, timers): the floor under the load. */
  readonly idleCpuPct: number;
  readonly raftIndexBefore: number;
  readonly raftIndexAfter: number;
  /** Lines in the window with an assignment other than the settled one: must be 0. */
  readonly renumberedInWindow: number;
  /** Moments in the window a member was cut off (indexTotal() null: no answer within its heartbeat interval), and how many members. */
  readonly cutOffsInWindow: number;
  readonly membersCutOff: number;
  /** Settles the members saw on the way (a group settles again whenever its joins pause for a settle period). */
  readonly settles: number;
  readonly stats: readonly StatsLine[];
  readonly windowMs: number;
}

const key = (l: AssignmentLine): string => `${String(l.index)}/${String(l.total)}@${String(l.generation)}`;

/** What the members reported in a window after `settledAs` (member → key): renumberings and cut-offs. */
function windowChanges(
  lines: readonly AssignmentLine[],
  settledAs: ReadonlyMap<string, string>,
): Pick<LoadResult, 'renumberedInWindow' | 'cutOffsInWindow' | 'membersCutOff'> {
  const cutOff = lines.filter((l) => l.index === null);
  return {
    renumberedInWindow: lines.filter((l) => l.index !== null && settledAs.get(l.member) !== key(l)).length,
    cutOffsInWindow: cutOff.length,
    membersCutOff: new Set(cutOff.map((l) => l.member)).size,
  };
}

/** utime + stime of `pid` in ms (Linux reports clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The pid of the cluster's only member (a child of this process), found by its data directory. */
function coordinatorPid(cluster: SkeinCluster): number {
  const needle = ` --data-dir ${join(cluster.dataDir, cluster.names[0]!)} `;
  const pid = childProcesses().find((child) => child.cmdline.includes(needle))?.pid;
  if (pid === undefined) throw new Error('the coordinator process was not found in /proc (Linux only)');
  return pid;
}

/** CPU of `pid` over the next `ms` milliseconds, in % of one core. */
async function cpuPctOver(pid: number, ms: number): Promise<number> {
  const [cpu, at] = [cpuMs(pid), performance.now()];
  await sleep(ms);
  return ((cpuMs(pid) - cpu) / (performance.now() - at)) * 100;
}

async function raftIndex(url: string): Promise<number> {
  const answer = await fetch(`${url}/v1/status`);
  return ((await answer.json()) as { raftIndex: number }).raftIndex;
}

async function loadScenario(label: string, groups: readonly string[]): Promise<LoadResult> {
  const cluster = await startSkeinCluster({ members: 1, startTimeoutMs: 60_000 });
  const perProcess = loadMembers / loadProcesses;
  const groupsPerProcess = groups.length / loadProcesses;
  const load: MemberProcess[] = [];
  try {
    const pid = coordinatorPid(cluster);
    const idleCpuPct = await cpuPctOver(pid, IDLE_WINDOW_MS);
    const started = Date.now();
    for (let p = 0; p < loadProcesses; p++) {
      const mine =
        groups.length === 1 ? groups : groups.slice(p * groupsPerProcess, (p + 1) * groupsPerProcess);
      load.push(
        spawnMemberProcess({
          endpoints: cluster.clientUrls,
          groups: mine,
          id: `l${String(p + 1)}`,
          count: perProcess,
          heartbeatMs: loadHeartbeatMs,
          settleMs: LOAD_SETTLE_MS,
          joinConcurrency: 32,
        }),
      );
    }
    await Promise.all(load.map((m) => m.ready));
    const joinedAt = Date.now();
    const size = loadMembers / groups.length;
    const lines = await until(`${label} to settle`, () => settled(load, groups, size), 120_000);
    const settleAfterJoinsMs = allReportedAt(load, lines, started) - joinedAt;
    await sleep(1000); // past the settle's own burst of answers
    const historyAt = load.map((m) => m.history.length);
    const settledAs = new Map(lines.map((l) => [l.member, key(l)]));
    const generations = new Set(
      load.flatMap((m) => m.history.map((l) => `${l.group}@${String(l.generation)}`)),
    );
    const settles = [...generations].filter((g) => !g.endsWith('@null')).length;
    for (const m of load) m.reset();
    const cpuBefore = cpuMs(pid);
    const indexBefore = await raftIndex(cluster.clientUrls[0]!);
    const windowStarted = performance.now();
    await sleep(windowMs);
    const cpuAfter = cpuMs(pid);
    const measuredMs = performance.now() - windowStarted;
    const indexAfter = await raftIndex(cluster.clientUrls[0]!);
    const stats = await Promise.all(load.map((m) => m.stats()));
    return {
      label,
      joinMs: joinedAt - started,
      settleAfterJoinsMs,
      coordinatorCpuPct: ((cpuAfter - cpuBefore) / measuredMs) * 100,
      idleCpuPct,
      raftIndexBefore: indexBefore,
      raftIndexAfter: indexAfter,
      ...windowChanges(
        load.flatMap((m, i) => m.history.slice(historyAt[i])),
        settledAs,
      ),
      settles,
      stats,
      windowMs: measuredMs,
    };
  } finally {
    await Promise.all(load.map((m) => m.kill()));
    await cluster.stop();
  }
}

/** Per load process: what its members saw of their heartbeats, and its own CPU (the summary has the rest). */
function printLoad(r: LoadResult): void {
  console.log(
    `  ${r.label}: joined in ${String(r.joinMs)} ms, settled ${String(r.settleAfterJoinsMs)} ms after the last join`,
  );
  r.stats.forEach((s, i) => {
    console.log(
      `    load process ${String(i + 1)}: ${String(s.heartbeats)} heartbeats, ${String(s.errors)} errors, ` +
        `p50 ${String(s.p50Ms)} ms, p99 ${String(s.p99Ms)} ms, max ${String(s.maxMs)} ms, CPU ${cpuPct(s)}`,
    );
  });
}

const cpuPct = (s: StatsLine): string => `${((s.cpuUs / 1000 / s.wallMs) * 100).toFixed(1)}%`;

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(
    `membership bench (node ${process.version}); ${loadLine()}\n` +
      'NOTE: this machine is shared and noisy: read medians, and the load average above.\n',
  );
  let crash: CrashResult | undefined;
  const loads: LoadResult[] = [];
  if (!values['skip-crash']) {
    console.log(
      `crash→settled: ${String(processes)} member processes, coordinator of ${String(coordinatorMembers)}, ` +
        `heartbeat ${String(heartbeatMs)} ms, session TTL ${String(ttlSeconds)} s, settle ${String(settleMs)} ms, ${String(runs)} runs`,
    );
    crash = await crashToSettled();
  }
  if (!values['skip-load']) {
    console.log(
      `\nload: ${String(loadMembers)} members of one group in ${String(loadProcesses)} processes, ` +
        `heartbeat ${String(loadHeartbeatMs)} ms (joinGroup sends one every ¾ of it: ` +
        `${((loadMembers * 4000) / (3 * loadHeartbeatMs)).toFixed(0)}/s), one coordinator process`,
    );
    for (let run = 0; run < loadRuns; run++) {
      const r = await loadScenario(`1 group of ${String(loadMembers)}`, ['load']);
      printLoad(r);
      loads.push(r);
    }
  }
  if (!values['skip-groups']) {
    const size = loadMembers / groupCount;
    console.log(
      `\ngroups: ${String(groupCount)} groups of ${String(size)} in ${String(loadProcesses)} processes, ` +
        `heartbeat ${String(loadHeartbeatMs)} ms, one coordinator process`,
    );
    const names = Array.from({ length: groupCount }, (_, i) => `g${String(i).padStart(3, '0')}`);
    for (let run = 0; run < loadRuns; run++) {
      const r = await loadScenario(`${String(groupCount)} groups of ${String(size)}`, names);
      printLoad(r);
      loads.push(r);
    }
  }
  console.log(`\n${loadLine()}\n\nSummary\n${summary(crash, loads)}`);
}

/** Rows of the summary table; `add` names the scenario on its first row only. */
class Table {
  readonly rows: string[][] = [['scenario', 'measure', 'value', 'target', 'verdict']];
  scenario = '';

  add(measure: string, value: string, target = '', ok?: boolean | string): void {
    this.rows.push([
      this.scenario,
      measure,
      value,
      target,
      typeof ok === 'boolean' ? verdict(ok) : (ok ?? ''),
    ]);
    this.scenario = '';
  }

  toString(): string {
    const widths = this.rows[0]!.map((_, c) => Math.max(...this.rows.map((row) => row[c]!.length)));
    return this.rows
      .map((row) =>
        row
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n');
  }
}

const ms = (n: number): string => `${String(Math.round(n))} ms`;

/** The summary table: one row per figure. */
function summary(crash: CrashResult | undefined, loads: readonly LoadResult[]): string {
  const table = new Table();
  if (crash !== undefined) crashRows(table, crash);
  for (const label of new Set(loads.map((r) => r.label))) {
    loadRows(
      table,
      label,
      loads.filter((r) => r.label === label),
    );
  }
  return table.toString();
}

function crashRows(table: Table, crash: CrashResult): void {
  const add = table.add.bind(table);
  const [med, max] = [median(crash.crashToSettledMs), Math.max(...crash.crashToSettledMs)];
  const bound = `≤ ${ms(targetMs)} (bloc ≤ ${String(blocBoundMs)})`;
  const both = (n: number): string => `${verdict(n <= targetMs)} (bloc ${verdict(n <= blocBoundMs)})`;
  table.scenario = `crash→settled, ${String(runs)} runs, ${String(coordinatorMembers)} coord.`;
  add('kill -9 → all settled, median', ms(med), bound, both(med));
  add('kill -9 → all settled, max', ms(max), bound, both(max));
  const joins = crash.joinToSettledMs;
  add(
    'join → all settled, median / max',
    `${String(Math.round(median(joins)))} / ${ms(Math.max(...joins))}`,
    `settle ${ms(settleMs)} + heartbeat`,
  );
}

/** The figures of one load scenario over its runs: medians, sums (must-be-zero counts), each run. */
function loadRows(table: Table, label: string, rs: readonly LoadResult[]): void {
  const add = table.add.bind(table);
  const med = (pick: (r: LoadResult) => number): number => median(rs.map(pick));
  const sum = (pick: (r: LoadResult) => number): number => rs.reduce((n, r) => n + pick(r), 0);
  const worst = (r: LoadResult, pick: (s: StatsLine) => number | null): number =>
    Math.max(...r.stats.map((s) => pick(s) ?? Number.NaN));
  const each = (show: (r: LoadResult) => string): string => rs.map(show).join('; ');
  const [cpu, maxCpu] = [med((r) => r.coordinatorCpuPct), Math.max(...rs.map((r) => r.coordinatorCpuPct))];
  const writes = sum((r) => r.raftIndexAfter - r.raftIndexBefore);
  const [renumbered, cutOffs] = [sum((r) => r.renumberedInWindow), sum((r) => r.cutOffsInWindow)];
  const window = `${(rs[0]!.windowMs / 1000).toFixed(0)} s window${rs.length > 1 ? `, ${String(rs.length)} runs` : ''}`;
  table.scenario = label;
  add(
    `coordinator CPU, ${window}`,
    rs.length === 1 ? `${cpu.toFixed(1)}% of a core` : `median ${cpu.toFixed(1)}%, max ${maxCpu.toFixed(1)}%`,
    `≤ ${String(CPU_TARGET_PCT)}%`,
    rs.length === 1
      ? cpu <= CPU_TARGET_PCT
      : `median ${verdict(cpu <= CPU_TARGET_PCT)}, max ${verdict(maxCpu <= CPU_TARGET_PCT)}`,
  );
  add('coordinator CPU idle, before the joins', `${med((r) => r.idleCpuPct).toFixed(1)}% of a core`);
  add(
    'Raft log writes in the window',
    `${String(writes)} (index ${each((r) => `${String(r.raftIndexBefore)} → ${String(r.raftIndexAfter)}`)})`,
    '0',
    writes === 0,
  );
  add(
    'heartbeat p50 / p99 (worst process)',
    `${med((r) => worst(r, (s) => s.p50Ms)).toFixed(1)} / ${med((r) => worst(r, (s) => s.p99Ms)).toFixed(1)} ms`,
  );
  // Each process's own window (reset → stats): slightly longer than the bench's CPU window.
  const rate = med((r) => r.stats.reduce((n, s) => n + s.heartbeats / (s.wallMs / 1000), 0));
  add(
    'heartbeats/s, errors',
    `${rate.toFixed(0)}/s, ${String(sum((r) => r.stats.reduce((n, s) => n + s.errors, 0)))}`,
  );
  add(
    'load processes CPU',
    each((r) => r.stats.map(cpuPct).join(' + ')),
  );
  add(
    'Raft entries before the window, settles seen',
    each((r) => `${String(r.raftIndexBefore)}, ${String(r.settles)}`),
    '≈ 2 per member + settles',
  );
  add('renumbered in the window', String(renumbered), '0', renumbered === 0);
  add(
    'cut off for a moment in the window',
    `${String(cutOffs)} times, by ${String(sum((r) => r.membersCutOff))} members`,
  );
  add(
    'joined / settled after the last join',
    `${String(Math.round(med((r) => r.joinMs)))} / ${ms(med((r) => r.settleAfterJoinsMs))}`,
    `settle ${ms(LOAD_SETTLE_MS)} + heartbeat`,
  );
}

await main();
