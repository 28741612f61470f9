import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../../src/core/random.ts';
import { HistoryRecorder, Indeterminate } from '../../src/testing/history.ts';
import { checkLinearizable, type LinearizabilityResult } from '../../src/testing/linearizability.ts';
import { kvModel, type KvInput, type KvOutput } from '../../src/testing/models/kv.ts';
import { ChaosCluster, sleep, type RestartMode } from './chaos-cluster.ts';
import { FaultProxy } from './fault-proxy.ts';
import { Nemesis, type NemesisCounts } from './nemesis.ts';
import { Workload, type WorkloadCounts } from './workload.ts';

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  readonly nodes: number;
  readonly seed: number;
  /** Kill -9 cycles to run (0: run for `durationMs` with kills among the other faults). */
  readonly kills: number;
  readonly durationMs: number;
  readonly restart: RestartMode;
  /** Every kill -9 kills every node at once (a power cut); not with `replace` restarts. */
  readonly wholeClusterKills: boolean;
  readonly clients: number;
  readonly registerKeys: number;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly requestTimeoutMs: number;
  readonly logLevel: string;
  /** Progress output. */
  readonly log: (line: string) => void;
}

export const ChaosDefaults = {
  nodes: 3,
  kills: 0,
  durationMs: 30_000,
  wholeClusterKills: false,
  clients: 8,
  registerKeys: 8,
  tickMs: 50,
  electionTicks: 10,
  requestTimeoutMs: 2000,
  logLevel: 'warn',
} as const;

/** What a run found. `passed` is the verdict; the rest says why. */
export interface ChaosReport {
  readonly options: Omit<ChaosOptions, 'log'>;
  readonly passed: boolean;
  readonly problems: string[];
  readonly elapsedMs: number;
  readonly ops: WorkloadCounts;
  readonly nemesis: NemesisCounts;
  readonly linearizability: LinearizabilityResult<KvInput, KvOutput>;
  readonly keysRead: number;
  readonly acknowledgedWrites: number;
  readonly lostWrites: string[];
  readonly members: { id: string; applied: number; digest: number; keys: number }[];
  /** The keys that took the checker longest, or that it could not decide. */
  readonly hardestKeys: HardKey[];
  /** Where node logs (and the history, `history.json`) were written when the run failed. */
  readonly logsDir: string | null;
}

/** One key as the checker saw it. */
export interface HardKey {
  readonly key: string;
  readonly operations: number;
  readonly indeterminateWrites: number;
  readonly result: string;
  readonly elapsedMs: number;
}

/**
 * One chaos run: start the cluster behind the proxy, run clients and the nemesis together, heal,
 * read every key back linearizably, and check the history, the acknowledged writes and that the
 * members converged.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  if (options.wholeClusterKills && options.restart === 'replace') {
    throw new Error(
      'chaos: whole-cluster kills need restarts from disk (or amnesia); replace needs a quorum',
    );
  }
  const started = performance.now();
  const random = new Random(options.seed);
  const log = (line: string): void => {
    options.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  };
  const { cluster, dataRoot } = await startCluster(options, random, log);
  const history = new HistoryRecorder<KvInput, KvOutput>({ now: () => performance.now() });
  const workload = new Workload({
    cluster,
    history,
    random: random.fork(),
    clients: options.clients,
    registerKeys: options.registerKeys,
    opTimeoutMs: options.requestTimeoutMs + 1000,
    maxOpsPerKey: 60,
    maxIndeterminateWritesPerKey: 4,
  });
  const nemesis = new Nemesis({
    cluster,
    random: random.fork(),
    log,
    kills: options.kills,
    wholeCluster: options.wholeClusterKills,
    durationMs: options.kills > 0 ? Math.max(options.durationMs, options.kills * 60_000) : options.durationMs,
    restartTimeoutMs: 30_000,
  });
  try {
    const leader = await cluster.waitForLeader(20_000);
    if (leader === null) throw new Error('no leader elected within 20 s of the start');
    log(`${options.nodes} nodes up, leader ${leader}; restarts: ${describeRestart(options.restart)}`);
    await exercise(workload, nemesis, log);
    const verdict = await check(cluster, workload, history, log);
    await cluster.stop();
    const { log: _, ...rest } = options;
    return {
      options: rest,
      ...verdict,
      passed: verdict.problems.length === 0,
      elapsedMs: performance.now() - started,
      ops: { ...workload.counts, errors: { ...workload.counts.errors } },
      nemesis: { ...nemesis.counts },
      acknowledgedWrites: workload.acknowledged.size,
      logsDir: verdict.problems.length === 0 ? null : saveLogs(cluster, history),
    };
  } catch (error) {
    await cluster.stop();
    log(`run failed; node logs: ${saveLogs(cluster, history)}`);
    throw error;
  } finally {
    await cluster.stop();
    if (dataRoot !== undefined) rmSync(dataRoot, { recursive: true, force: true });
  }
}

/** The cluster behind a fresh proxy; in durable mode with a temporary data root (removed by the caller). */
async function startCluster(
  options: ChaosOptions,
  random: Random,
  log: (line: string) => void,
): Promise<{ cluster: ChaosCluster; dataRoot: string | undefined }> {
  const dataRoot = options.restart === 'durable' ? mkdtempSync(join(tmpdir(), 'skein-chaos-')) : undefined;
  try {
    const cluster = await ChaosCluster.start({
      size: options.nodes,
      proxy: new FaultProxy({ random: random.fork() }),
      restart: options.restart,
      ...(dataRoot !== undefined ? { dataRoot } : {}),
      tickMs: options.tickMs,
      electionTicks: options.electionTicks,
      requestTimeoutMs: options.requestTimeoutMs,
      logLevel: options.logLevel,
      log,
    });
    return { cluster, dataRoot };
  } catch (error) {
    if (dataRoot !== undefined) rmSync(dataRoot, { recursive: true, force: true });
    throw error;
  }
}

/** Heal, let the members converge, read every key back, check the history and the acknowledged writes. */
async function check(
  cluster: ChaosCluster,
  workload: Workload,
  history: HistoryRecorder<KvInput, KvOutput>,
  log: (line: string) => void,
): Promise<
  Pick<ChaosReport, 'problems' | 'members' | 'keysRead' | 'lostWrites' | 'linearizability' | 'hardestKeys'>
> {
  const problems: string[] = [];
  const members = await settle(cluster, log, problems);
  const { keysRead, lost } = await readBack(cluster, workload, problems);
  log(`checking ${history.size} operations on ${workload.keys.size} keys`);
  const linearizability = checkLinearizable(kvModel, history, { timeoutMs: 120_000 });
  if (linearizability.result !== 'ok') {
    problems.push(
      linearizability.result === 'illegal'
        ? `history not linearizable:\n${linearizability.counterexample?.text ?? ''}`
        : 'linearizability check gave up (unknown)',
    );
  }
  if (lost.length > 0)
    problems.push(`${lost.length} acknowledged writes lost: ${lost.slice(0, 10).join(', ')}`);
  const hardestKeys = hardest(linearizability, history);
  return { problems, members, keysRead, lostWrites: lost, linearizability, hardestKeys };
}

/** Clients and nemesis together, with a progress line every 5 s; returns once both have stopped. */
async function exercise(workload: Workload, nemesis: Nemesis, log: (line: string) => void): Promise<void> {
  workload.start();
  const progress = setInterval(() => {
    const c = workload.counts;
    log(`ops: ${c.invoked} invoked, ${c.ok} ok, ${c.failed} failed, ${c.indeterminate} indeterminate`);
  }, 5000);
  try {
    await nemesis.run();
  } finally {
    clearInterval(progress);
    await workload.stop();
  }
}

function describeRestart(mode: RestartMode): string {
  switch (mode) {
    case 'durable':
      return 'same id from --data-dir (durable storage)';
    case 'replace':
      return 'in-memory storage: a killed node is replaced by an empty one under a NEW id (detach + attach)';
    case 'amnesia':
      return 'UNSAFE negative control: same id, in-memory storage, whole-cluster kills (must FAIL)';
  }
}

/** Heal everything, wait for a leader and for every member to apply all that was committed. */
async function settle(
  cluster: ChaosCluster,
  log: (line: string) => void,
  problems: string[],
): Promise<ChaosReport['members']> {
  cluster.proxy.heal();
  for (const node of cluster.running()) cluster.resume(node.id);
  const leader = await cluster.waitForLeader(30_000);
  if (leader === null) {
    problems.push('no leader within 30 s after healing');
    return [];
  }
  log(`healed; leader ${leader}`);
  const deadline = performance.now() + 30_000;
  for (;;) {
    const statuses = await Promise.all(cluster.ids().map((id) => cluster.status(id)));
    const commit = Math.max(...statuses.map((s) => s?.commitIndex ?? 0));
    const members = statuses.flatMap((s) =>
      s === null ? [] : [{ id: s.id, applied: s.appliedIndex, digest: s.kv.digest, keys: s.kv.keys }],
    );
    const caughtUp = members.length === statuses.length && members.every((m) => m.applied >= commit);
    if (caughtUp) {
      if (new Set(members.map((m) => `${m.digest}/${m.keys}`)).size !== 1) {
        problems.push(`members diverged: ${JSON.stringify(members)}`);
      }
      return members;
    }
    if (performance.now() > deadline) {
      problems.push(`members did not catch up within 30 s: ${JSON.stringify(members)} (commit ${commit})`);
      return members;
    }
    await sleep(200);
  }
}

/** Read every key linearizably (on varying members) and compare the acknowledged write-once keys. */
async function readBack(
  cluster: ChaosCluster,
  workload: Workload,
  problems: string[],
): Promise<{ keysRead: number; lost: string[] }> {
  const keys = [...workload.keys].sort();
  const values = new Map<string, unknown>();
  const BATCH = 64;
  for (let i = 0; i < keys.length; i += BATCH) {
    await Promise.all(
      keys.slice(i, i + BATCH).map(async (key, j) => {
        for (let attempt = 0; attempt < 5; attempt++) {
          const nodes = cluster.running();
          const node = nodes[(i + j + attempt) % nodes.length]!;
          try {
            values.set(key, await workload.finalRead(key, node));
            return;
          } catch {
            await sleep(200);
          }
        }
      }),
    );
  }
  const unread = keys.filter((k) => !values.has(k));
  if (unread.length > 0)
    problems.push(`${unread.length} keys could not be read back: ${unread.slice(0, 5).join(', ')}`);
  const lost = [...workload.acknowledged].filter(
    ([key, value]) => values.has(key) && values.get(key) !== value,
  );
  return {
    keysRead: values.size,
    lost: lost.map(([key, value]) => `${key}=${value} (read ${String(values.get(key))})`),
  };
}

/** The undecided keys and the slowest ones (at most 5 in all), with their indeterminate writes. */
function hardest(
  result: LinearizabilityResult<KvInput, KvOutput>,
  history: HistoryRecorder<KvInput, KvOutput>,
): HardKey[] {
  const chosen = [...result.partitions]
    .sort((a, b) => Number(b.result !== 'ok') - Number(a.result !== 'ok') || b.elapsedMs - a.elapsedMs)
    .slice(0, 5);
  const open = new Map<string, number>();
  for (const op of history.operations()) {
    if (op.output === Indeterminate && op.input.op !== 'get') {
      open.set(op.input.key, (open.get(op.input.key) ?? 0) + 1);
    }
  }
  return chosen.map((p) => ({
    key: p.key,
    operations: p.operations,
    indeterminateWrites: open.get(p.key) ?? 0,
    result: p.reason === undefined ? p.result : `${p.result} (${p.reason})`,
    elapsedMs: p.elapsedMs,
  }));
}

/**
 * Write every node's captured log, and the history as JSON (indeterminate outputs as
 * "indeterminate"), to a temp dir for a failed run; return its path.
 */
function saveLogs(cluster: ChaosCluster, history: HistoryRecorder<KvInput, KvOutput>): string {
  const dir = mkdtempSync(join(tmpdir(), 'skein-chaos-logs-'));
  for (const node of cluster.allNodes()) {
    writeFileSync(join(dir, `${node.id}.log`), node.previousOutput + node.process.output);
  }
  const operations = history.operations().map((op) => ({
    ...op,
    output: op.output === Indeterminate ? 'indeterminate' : op.output,
    return: op.return === Infinity ? null : op.return,
  }));
  writeFileSync(join(dir, 'history.json'), JSON.stringify(operations));
  return dir;
}

/** The report as the lines `npm run chaos` prints. */
export function formatReport(r: ChaosReport): string {
  const n = r.nemesis;
  const lin = r.linearizability;
  const lines = [
    `chaos: ${r.options.nodes} nodes, seed ${r.options.seed}, restarts ${r.options.restart}, ${(r.elapsedMs / 1000).toFixed(1)} s`,
    `nemesis: ${n.killCycles} kill -9 cycles (${n.processesKilled} processes; ${n.leaderKills} of the leader, ` +
      `${n.wholeClusterKills} of the whole cluster), ${n.pauses} SIGSTOP, ${n.partitions} partitions, ` +
      `${n.oneWay} one-way, ${n.delays} delays, ${n.lossy} lossy, ${n.cuts} cuts, ${n.transfers} transfers (${n.refused} refused)`,
    `ops: ${r.ops.invoked} invoked: ${r.ops.ok} ok, ${r.ops.failed} failed, ${r.ops.indeterminate} indeterminate`,
    `client errors: ${
      Object.entries(r.ops.errors)
        .sort((a, b) => b[1] - a[1])
        .map(([code, n]) => `${code} ${n}`)
        .join(', ') || 'none'
    }`,
    `linearizability: ${lin.result} (${lin.partitions.reduce((s, p) => s + p.operations, 0)} operations in ` +
      `${lin.partitions.length} keys, ${lin.elapsedMs.toFixed(0)} ms)`,
    `acknowledged writes: ${r.acknowledgedWrites} write-once keys acknowledged, ${r.lostWrites.length} lost; ${r.keysRead} keys read back`,
    `hardest keys to check: ${r.hardestKeys
      .map(
        (k) =>
          `${k.key} ${k.result} ${k.operations} ops, ${k.indeterminateWrites} indeterminate writes, ${k.elapsedMs.toFixed(0)} ms`,
      )
      .join('; ')}`,
    `members: ${r.members.map((m) => `${m.id} applied ${m.applied} digest ${m.digest.toString(16)}`).join('; ')}`,
    ...r.problems.map((p) => `PROBLEM: ${p}`),
    ...(r.logsDir !== null ? [`node logs: ${r.logsDir}`] : []),
    `VERDICT: ${r.passed ? 'PASS' : 'FAIL'}`,
  ];
  return lines.join('\n');
}
