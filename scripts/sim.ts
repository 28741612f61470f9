/**
 * `npm run sim -- --seeds N [--from S] [--seed S]`: run the random Raft fault schedules outside the
 * test runner, for long soaks. Prints progress and the first failing seed with its replay command.
 */
import { parseArgs } from 'node:util';
import { randomRaftSchedule } from '../src/testing/raft-schedules.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '10000' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
  },
});
const first = values.seed !== undefined ? Number(values.seed) : Number(values.from);
const count = values.seed !== undefined ? 1 : Number(values.seeds);
if (!Number.isInteger(first) || !Number.isInteger(count) || count < 1) {
  console.error('usage: npm run sim -- --seeds <count> [--from <first seed>] | --seed <seed>');
  process.exit(2);
}
const started = performance.now();
for (let seed = first; seed < first + count; seed++) {
  try {
    await randomRaftSchedule(seed);
  } catch (error) {
    console.error(
      `seed ${seed} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    console.error(
      `replay: npm run sim -- --seed ${seed}   (or SKEIN_SEED=${seed} npm test -- raft-property)`,
    );
    process.exit(1);
  }
  if ((seed - first + 1) % 500 === 0) {
    const s = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${seed - first + 1} seeds ok (${s} s)`);
  }
}
console.log(`${count} seeds ok, from ${first}, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
