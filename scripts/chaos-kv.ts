/**
 * `npm run chaos:kv -- [--members 3|5] [--kills N] [--replace N] [--seed N] [--clients N] [--keys N]`:
 * real `skein server` processes with peer traffic behind the fault-injecting proxy, concurrent
 * clients (connect()) doing put / get / CAS txn / delete, a nemesis (kill -9, SIGSTOP, partitions,
 * SIGTERM of the leader: leadership transfer; with --replace, N members killed, removed and
 * replaced by new members that join), then a linearizability check and a lost-write check.
 */
import { parseArgs } from 'node:util';
import { formatChaosKvReport, runChaosKv } from '../test/chaos-kv/run-chaos-kv.ts';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '3' },
    kills: { type: 'string', default: '6' },
    replace: { type: 'string', default: '0' },
    seed: { type: 'string' },
    clients: { type: 'string', default: '8' },
    keys: { type: 'string', default: '8' },
  },
});
const int = (name: string, value: string | undefined, min: number, max: number): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer in ${min}..${max} (got "${value}")`);
    process.exit(2);
  }
  return n;
};
const seed = values.seed !== undefined ? int('seed', values.seed, 0, 2 ** 32 - 1) : Date.now() % 2 ** 32;
const members = int('members', values.members, 3, 5);
if (members === 4) {
  console.error('--members is 3 or 5');
  process.exit(2);
}
let report;
try {
  report = await runChaosKv({
    members,
    seed,
    kills: int('kills', values.kills, 1, 10_000),
    replacements: int('replace', values.replace, 0, 1000),
    clients: int('clients', values.clients, 1, 64),
    registerKeys: int('keys', values.keys, 1, 1000),
    log: (line) => {
      console.log(line);
    },
  });
} catch (error) {
  // The harness itself broke (a server that cannot start or restart): no verdict.
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  console.log(`VERDICT: ERROR (the run could not complete; seed ${seed})`);
  process.exit(3);
}
console.log(formatChaosKvReport(report));
process.exit(report.problems.length === 0 ? 0 : 1);
