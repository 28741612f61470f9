/**
 * `npm run chaos -- [--nodes 3|5] [--kills N] [--duration-s S] [--seed N] [--restart durable|replace|amnesia]
 * [--whole-cluster] [--clients N] [--keys N] [--log-level L]`:
 * real `skein raft-node` processes behind a fault-injecting proxy, concurrent clients, a nemesis
 * (kill -9, SIGSTOP, partitions, delay, loss, leadership transfer), then a linearizability check
 * of the history and a check that no acknowledged write was lost. See docs/chaos.md.
 */
import { parseArgs } from 'node:util';
import {
  ChaosDefaults,
  formatReport,
  runChaos,
  type ChaosOptions,
  type ChaosReport,
} from '../test/chaos/run-chaos.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: String(ChaosDefaults.nodes) },
    kills: { type: 'string', default: String(ChaosDefaults.kills) },
    'duration-s': { type: 'string', default: String(ChaosDefaults.durationMs / 1000) },
    seed: { type: 'string' },
    restart: { type: 'string', default: 'durable' },
    'whole-cluster': { type: 'boolean', default: false },
    clients: { type: 'string', default: String(ChaosDefaults.clients) },
    keys: { type: 'string', default: String(ChaosDefaults.registerKeys) },
    'log-level': { type: 'string', default: ChaosDefaults.logLevel },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: npm run chaos -- [--nodes N] [--kills N] [--duration-s S] [--seed N]\n' +
      '         [--restart durable|replace|amnesia] [--whole-cluster] [--clients N] [--keys N] [--log-level L]\n' +
      'see docs/chaos.md',
  );
  process.exit(0);
}

const int = (name: string, value: string | undefined, min: number, max: number): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer in ${min}..${max} (got "${value}")`);
    process.exit(2);
  }
  return n;
};
if (values.restart !== 'durable' && values.restart !== 'replace' && values.restart !== 'amnesia') {
  console.error(
    '--restart is durable (same id from --data-dir), replace (new id, empty) or amnesia (unsafe: must fail)',
  );
  process.exit(2);
}
const seed = values.seed !== undefined ? int('seed', values.seed, 0, 2 ** 32 - 1) : Date.now() % 2 ** 32;
const options: ChaosOptions = {
  nodes: int('nodes', values.nodes, 1, 9),
  kills: int('kills', values.kills, 0, 100_000),
  durationMs: int('duration-s', values['duration-s'], 1, 86_400) * 1000,
  seed,
  restart: values.restart,
  wholeClusterKills: values['whole-cluster'],
  clients: int('clients', values.clients, 1, 256),
  registerKeys: int('keys', values.keys, 1, 10_000),
  tickMs: ChaosDefaults.tickMs,
  electionTicks: ChaosDefaults.electionTicks,
  requestTimeoutMs: ChaosDefaults.requestTimeoutMs,
  logLevel: values['log-level'],
  log: (line) => {
    console.log(line);
  },
};
let report: ChaosReport;
try {
  report = await runChaos(options);
} catch (error) {
  // The harness itself broke (a node that cannot start, a restart that never completes): no verdict.
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  console.log(`VERDICT: ERROR (the run could not complete; seed ${seed})`);
  process.exit(3);
}
console.log(formatReport(report));
if (!report.passed) {
  const args = process.argv.slice(2).filter((a, i, all) => a !== '--seed' && all[i - 1] !== '--seed');
  console.log(
    `the same schedule: npm run chaos -- ${[...args, '--seed', String(seed)].join(' ')} (timing differs between runs)`,
  );
}
process.exit(report.passed ? 0 : 1);
