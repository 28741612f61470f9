import { connect } from '../../src/client/skein-client.ts';
import { Random } from '../../src/core/random.ts';
import { HistoryRecorder } from '../../src/testing/history.ts';
import { checkLinearizable, type CheckVerdict } from '../../src/testing/linearizability.ts';
import { kvModel, type KvInput, type KvOutput } from '../../src/testing/models/kv.ts';
import { sleep } from '../chaos/chaos-cluster.ts';
import { FaultProxy } from '../chaos/fault-proxy.ts';
import type { WorkloadCounts } from '../chaos/workload.ts';
import { KvNemesis, type KvNemesisCounts } from './kv-nemesis.ts';
import { KvWorkload } from './kv-workload.ts';
import { ProxiedServers } from './proxied-servers.ts';

/** Options of {@link runChaosKv}. */
export interface ChaosKvOptions {
  readonly members: number;
  readonly seed: number;
  /** kill -9 cycles; the other faults run between them. */
  readonly kills: number;
  /** Member replacements (kill -9, remove, a new member joins) among the other faults. Default 0. */
  readonly replacements?: number;
  readonly clients: number;
  readonly registerKeys: number;
  readonly log: (line: string) => void;
}

/** What a run found; `problems` empty means it passed. */
export interface ChaosKvReport {
  readonly seed: number;
  readonly elapsedMs: number;
  readonly ops: WorkloadCounts;
  readonly nemesis: KvNemesisCounts;
  readonly verdict: CheckVerdict;
  readonly acknowledgedWrites: number;
  readonly lostWrites: string[];
  readonly problems: string[];
}

/**
 * One chaos run against real `skein server` processes: clients and nemesis together, then heal,
 * read every key back linearizably, check the history with the linearizability checker and that
 * every acknowledged write-once key still holds its value.
 */
export async function runChaosKv(o: ChaosKvOptions): Promise<ChaosKvReport> {
  const started = performance.now();
  const random = new Random(o.seed);
  const log = (line: string): void => {
    o.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  };
  const servers = await ProxiedServers.start({
    size: o.members,
    proxy: new FaultProxy({ random: random.fork() }),
    tickMs: 50,
    electionTicks: 10,
    requestTimeoutMs: 2000,
    logLevel: 'warn',
  });
  try {
    log(`${o.members} skein servers up (peers behind the fault proxy), seed ${o.seed}`);
    const history = new HistoryRecorder<KvInput, KvOutput>({ now: () => performance.now() });
    const workload = new KvWorkload({
      endpoints: servers.clientUrls,
      history,
      random: random.fork(),
      clients: o.clients,
      registerKeys: o.registerKeys,
      requestTimeoutMs: 3000,
    });
    const nemesis = new KvNemesis(servers, random.fork(), log);
    await workload.start();
    try {
      await nemesis.run(o.kills, Math.max(60_000, o.kills * 30_000), o.replacements ?? 0);
    } finally {
      await workload.stop();
    }
    const c = workload.counts;
    log(`ops: ${c.invoked} invoked, ${c.ok} ok, ${c.failed} failed, ${c.indeterminate} indeterminate`);
    const problems: string[] = [];
    servers.proxy.heal();
    if ((await servers.leader(30_000)) === null) problems.push('no leader within 30 s after healing');
    const lostWrites = await readBack(servers, workload, problems);
    const verdict = checkLinearizable(kvModel, history, { timeoutMs: 60_000 });
    if (verdict.result === 'illegal')
      problems.push(`not linearizable:\n${verdict.counterexample?.text ?? ''}`);
    if (verdict.result === 'unknown') problems.push('the linearizability checker gave up');
    if (lostWrites.length > 0)
      problems.push(`acknowledged writes lost: ${lostWrites.slice(0, 10).join(', ')}`);
    if (problems.length > 0) {
      for (const [i, name] of servers.names.entries()) log(`--- ${name} log tail ---\n${servers.logTail(i)}`);
    }
    return {
      seed: o.seed,
      elapsedMs: performance.now() - started,
      ops: c,
      nemesis: nemesis.counts,
      verdict: verdict.result,
      acknowledgedWrites: workload.acknowledged.size,
      lostWrites,
      problems,
    };
  } finally {
    await servers.stop();
  }
}

/** Read every key back (recorded in the history); returns the acknowledged writes that are gone. */
async function readBack(
  servers: ProxiedServers,
  workload: KvWorkload,
  problems: string[],
): Promise<string[]> {
  const client = await connect({ endpoints: servers.clientUrls, requestTimeoutMs: 5000 });
  const values = new Map<string, string | null>();
  try {
    for (const key of [...workload.keys].sort()) {
      for (let attempt = 0; attempt < 5 && !values.has(key); attempt++) {
        try {
          values.set(key, await workload.finalRead(client, key));
        } catch {
          await sleep(200);
        }
      }
    }
  } finally {
    await client.close();
  }
  const unread = [...workload.keys].filter((key) => !values.has(key));
  if (unread.length > 0)
    problems.push(`${unread.length} keys could not be read back: ${unread.slice(0, 5).join(', ')}`);
  return [...workload.acknowledged]
    .filter(([key, value]) => values.has(key) && values.get(key) !== value)
    .map(([key, value]) => `${key}=${value} (read ${String(values.get(key))})`);
}

/** The report as the lines `npm run chaos:kv` prints. */
export function formatChaosKvReport(r: ChaosKvReport): string {
  const n = r.nemesis;
  return [
    `chaos-kv: seed ${r.seed}, ${(r.elapsedMs / 1000).toFixed(1)} s`,
    `nemesis: ${n.kills} kill -9 (${n.leaderKills} of the leader), ${n.pauses} SIGSTOP, ${n.partitions} partitions, ${n.transfers} SIGTERM leader transfers, ${n.replacements} member replacements`,
    `ops: ${r.ops.invoked} invoked: ${r.ops.ok} ok, ${r.ops.failed} failed, ${r.ops.indeterminate} indeterminate; errors ${JSON.stringify(r.ops.errors)}`,
    `linearizability: ${r.verdict}; acknowledged write-once keys ${r.acknowledgedWrites}, lost ${r.lostWrites.length}`,
    ...r.problems.map((p) => `PROBLEM: ${p}`),
    `VERDICT: ${r.problems.length === 0 ? 'PASS' : 'FAIL'}`,
  ].join('\n');
}
