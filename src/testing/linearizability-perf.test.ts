import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../core/random.ts';
import { Indeterminate } from './history.ts';
import { checkLinearizable } from './linearizability.ts';
import { concurrentKvHistory } from './linearizability-fixtures.ts';
import { kvModel } from './models/kv.ts';

// Wall-clock bounds here are deliberately loose (CI machines vary); the figures are printed.
// SKEIN_LIN_OPS scales the histories up for a heavier local run.
const operations = Number(process.env['SKEIN_LIN_OPS'] ?? 10_000);
const budgetMs = 10_000;

describe('checkLinearizable performance', () => {
  it(`checks ${operations} ops over 50 keys from 8 concurrent clients (1% timed out)`, (t) => {
    const history = concurrentKvHistory(new Random(7), {
      operations,
      keys: 50,
      clients: 8,
      timeoutRate: 0.01,
    });
    const result = checkLinearizable(kvModel, history, { timeoutMs: budgetMs });
    t.diagnostic(`${operations} ops, 50 keys: ${result.elapsedMs.toFixed(0)} ms, verdict ${result.result}`);
    assert.equal(result.result, 'ok', result.counterexample?.text);
    assert.equal(result.partitions.length, 50);
  });

  it(`finds a corrupted read among ${operations} ops`, (t) => {
    const history = concurrentKvHistory(new Random(8), {
      operations,
      keys: 50,
      clients: 8,
      timeoutRate: 0.01,
    });
    const victim = history.findLast((o) => o.input.op === 'get' && o.output !== Indeterminate)!;
    const mutated = history.map((o) => (o === victim ? { ...o, output: 'never written' } : o));
    const result = checkLinearizable(kvModel, mutated, { timeoutMs: budgetMs });
    t.diagnostic(`corrupted read: ${result.elapsedMs.toFixed(0)} ms, verdict ${result.result}`);
    assert.equal(result.result, 'illegal');
    assert.equal(result.counterexample?.key, victim.input.key);
  });

  it(`checks ${operations} ops on a single key from 8 concurrent clients`, (t) => {
    const history = concurrentKvHistory(new Random(9), {
      operations,
      keys: 1,
      clients: 8,
      timeoutRate: 0.001,
    });
    const result = checkLinearizable(kvModel, history, { timeoutMs: budgetMs });
    t.diagnostic(`${operations} ops, 1 key: ${result.elapsedMs.toFixed(0)} ms, verdict ${result.result}`);
    assert.equal(result.result, 'ok', result.counterexample?.text);
  });
});
