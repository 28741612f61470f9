import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Indeterminate } from './history.ts';
import { checkLinearizable } from './linearizability.ts';
import { op } from './linearizability-fixtures.ts';
import { groupOf, kvGroupModel, type KvGroupInput, type KvGroupOutput } from './kv-model.ts';

const kv = op<KvGroupInput, KvGroupOutput>;
const get = (key: string): KvGroupInput => ({ op: 'get', key });
const putAll = (values: Record<string, string>): KvGroupInput => ({ op: 'put-all', group: 'g', values });
const readAll: KvGroupInput = { op: 'read-all', group: 'g' };

function verdict(history: ReturnType<typeof kv>[]): string {
  return checkLinearizable(kvGroupModel, history).result;
}

describe('kvGroupModel', () => {
  it('groups keys by the part before the first slash', () => {
    assert.equal(groupOf('g1/a'), 'g1');
    assert.equal(groupOf('g1/a/b'), 'g1');
    assert.equal(groupOf('plain'), 'plain');
  });

  it('accepts a multi-key put seen whole, and rejects one seen torn', () => {
    const write = kv(1, putAll({ 'g/a': '1', 'g/b': '1' }), undefined, 0, 1);
    assert.equal(verdict([write, kv(2, readAll, { 'g/a': '1', 'g/b': '1' }, 2, 3)]), 'ok');
    assert.equal(verdict([write, kv(2, readAll, { 'g/a': '1' }, 2, 3)]), 'illegal');
    // Torn across two single-key reads: b still old after a already new, in real-time order.
    const concurrent = kv(1, putAll({ 'g/a': '1', 'g/b': '1' }), Indeterminate, 0, 0);
    const torn = [concurrent, kv(2, get('g/a'), '1', 1, 2), kv(3, get('g/b'), null, 3, 4)];
    assert.equal(verdict(torn), 'illegal');
  });

  it('checks CAS on absence, delete existence, and prefix delete counts', () => {
    const history = [
      kv(1, { op: 'cas', key: 'g/a', expected: null, value: 'x' }, true, 0, 1),
      kv(2, { op: 'cas', key: 'g/a', expected: null, value: 'y' }, false, 2, 3),
      kv(3, { op: 'delete', key: 'g/b' }, false, 4, 5),
      kv(4, { op: 'delete-all', group: 'g' }, 1, 6, 7),
      kv(5, readAll, {}, 8, 9),
    ];
    assert.equal(verdict(history), 'ok');
    assert.equal(
      verdict([...history.slice(0, 3), kv(4, { op: 'delete-all', group: 'g' }, 2, 6, 7)]),
      'illegal',
    );
  });

  it('keeps the keys of one group in one partition', () => {
    const history = [kv(1, get('g/a'), null, 0, 1), kv(2, get('h/a'), null, 0, 1), kv(3, readAll, {}, 2, 3)];
    const result = checkLinearizable(kvGroupModel, history);
    assert.deepEqual(
      result.partitions.map((p) => [p.key, p.operations]),
      [
        ['g', 2],
        ['h', 1],
      ],
    );
  });
});
