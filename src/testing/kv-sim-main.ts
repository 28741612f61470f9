/**
 * Runs {@link randomKvSchedule} over many seeds outside the test runner (node:test tracks every
 * promise with async hooks, which slows the simulator about threefold):
 *
 *   node --conditions=skein-source --import tsx src/testing/kv-sim-main.ts --seeds 1000 [--from 1]
 *   node --conditions=skein-source --import tsx src/testing/kv-sim-main.ts --seed 5 [--chunk-bytes 64]
 *
 * Prints a summary line, or the first failing seed with its replay command (exit code 1).
 */
import { parseArgs } from 'node:util';
import { randomKvSchedule, type KvScheduleStats } from './kv-schedule.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    'chunk-bytes': { type: 'string' },
  },
});
const first = Number(values.seed ?? values.from);
const count = values.seed !== undefined ? 1 : Number(values.seeds);
const chunk = values['chunk-bytes'];
if (!Number.isInteger(first) || !Number.isInteger(count) || count < 1) {
  console.error('usage: kv-sim-main.ts --seeds <count> [--from <first>] | --seed <seed> [--chunk-bytes <n>]');
  process.exit(2);
}
const options = chunk === undefined ? {} : { snapshotChunkBytes: Number(chunk) };
const started = performance.now();
const runs: KvScheduleStats[] = [];
for (let seed = first; seed < first + count; seed++) {
  try {
    runs.push(await randomKvSchedule(seed, options));
  } catch (error) {
    console.error(
      `seed ${seed} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    const extra = chunk === undefined ? '' : ` SKEIN_KV_SNAPSHOT_CHUNK_BYTES=${chunk}`;
    console.error(`replay: SKEIN_SEED=${seed}${extra} node scripts/test.mjs kv-linearizability`);
    process.exit(1);
  }
}
const sum = (f: (s: KvScheduleStats) => number): number => runs.reduce((n, s) => n + f(s), 0);
console.log(
  JSON.stringify({
    seeds: runs.length,
    from: first,
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    operations: sum((s) => s.operations),
    indeterminate: sum((s) => s.indeterminate),
    crashes: sum((s) => s.crashes),
    partitions: sum((s) => s.partitions),
    transfers: sum((s) => s.transfers),
    commandsCompared: sum((s) => s.commandsCompared),
    runsWithSnapshots: runs.filter((s) => s.snapshotsTaken > 0).length,
    undecided: runs.filter((s) => s.verdict !== 'ok').length,
  }),
);
