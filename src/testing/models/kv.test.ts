import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Indeterminate } from '../history.ts';
import { checkLinearizable } from '../linearizability.ts';
import { op } from '../linearizability-fixtures.ts';
import { kvModel, type KvInput, type KvOutput } from './kv.ts';
import type { JsonValue } from './json.ts';

const kv = op<KvInput, KvOutput>;
const X: typeof Indeterminate = Indeterminate;
const get = (key: string): KvInput => ({ op: 'get', key });
const put = (key: string, value: JsonValue): KvInput => ({ op: 'put', key, value });
const cas = (key: string, expected: JsonValue, value: JsonValue): KvInput => ({
  op: 'cas',
  key,
  expected,
  value,
});
const del = (key: string): KvInput => ({ op: 'delete', key });

function verdict(history: ReturnType<typeof kv>[]): string {
  return checkLinearizable(kvModel, history).result;
}

describe('kvModel', () => {
  it('reads null for an absent key', () => {
    assert.equal(verdict([kv(1, get('x'), null, 0, 1)]), 'ok');
    assert.equal(verdict([kv(1, get('x'), 0, 0, 1)]), 'illegal');
  });

  it('compares JSON values structurally', () => {
    const history = [
      kv(1, put('x', { a: [1, 2], b: 'c' }), undefined, 0, 1),
      kv(2, get('x'), { b: 'c', a: [1, 2] }, 2, 3),
    ];
    assert.equal(verdict(history), 'ok');
    assert.equal(verdict([history[0]!, kv(2, get('x'), { a: [2, 1], b: 'c' }, 2, 3)]), 'illegal');
  });

  it('lets exactly one of two racing create-if-absent CAS succeed', () => {
    const race = (a: boolean, b: boolean) => [
      kv(1, cas('x', null, 'a'), a, 0, 10),
      kv(2, cas('x', null, 'b'), b, 0, 10),
    ];
    assert.equal(verdict(race(true, false)), 'ok');
    assert.equal(verdict(race(false, true)), 'ok');
    assert.equal(verdict(race(true, true)), 'illegal');
    assert.equal(verdict(race(false, false)), 'illegal');
    // The winner is the value that a later read sees.
    assert.equal(verdict([...race(true, false), kv(3, get('x'), 'a', 11, 12)]), 'ok');
    assert.equal(verdict([...race(true, false), kv(3, get('x'), 'b', 11, 12)]), 'illegal');
  });

  it('checks CAS against the value in place, including a CAS chain', () => {
    const chain = [
      kv(1, put('x', 0), undefined, 0, 1),
      kv(1, cas('x', 0, 1), true, 2, 3),
      kv(2, cas('x', 0, 2), false, 4, 5),
      kv(2, cas('x', 1, 2), true, 6, 7),
      kv(3, get('x'), 2, 8, 9),
    ];
    assert.equal(verdict(chain), 'ok');
    const lostUpdate = [...chain.slice(0, 2), kv(2, cas('x', 0, 2), true, 4, 5)];
    assert.equal(verdict(lostUpdate), 'illegal');
  });

  it('lets a timed-out CAS either happen (if its expectation held) or not', () => {
    const start = [kv(1, put('x', 0), undefined, 0, 1), kv(1, cas('x', 0, 1), X, 2, Infinity)];
    assert.equal(verdict([...start, kv(2, get('x'), 1, 10, 11)]), 'ok');
    assert.equal(verdict([...start, kv(2, get('x'), 0, 10, 11)]), 'ok');
    // It could only have swapped from 0; after a put of 5 it cannot produce 1.
    const blocked = [
      ...start,
      kv(2, put('x', 5), undefined, 3, 4),
      kv(2, get('x'), 5, 5, 6),
      kv(2, get('x'), 1, 7, 8),
    ];
    assert.equal(verdict(blocked), 'illegal');
  });

  it('deletes, and checks whether the key existed when delete reports it', () => {
    const written = kv(1, put('x', 1), undefined, 0, 1);
    assert.equal(verdict([written, kv(1, del('x'), undefined, 2, 3), kv(2, get('x'), null, 4, 5)]), 'ok');
    assert.equal(verdict([written, kv(1, del('x'), undefined, 2, 3), kv(2, get('x'), 1, 4, 5)]), 'illegal');
    assert.equal(verdict([written, kv(1, del('x'), true, 2, 3), kv(1, del('x'), false, 4, 5)]), 'ok');
    assert.equal(verdict([written, kv(1, del('x'), false, 2, 3)]), 'illegal');
    assert.equal(verdict([kv(1, del('x'), X, 0, Infinity), kv(2, get('x'), null, 1, 2)]), 'ok');
  });

  it('checks each key on its own and names the key that fails', () => {
    const history = [
      kv(1, put('a', 1), undefined, 0, 1),
      kv(2, put('b', 1), undefined, 0, 1),
      kv(1, get('a'), 1, 2, 3),
      kv(2, get('b'), null, 2, 3), // stale
      kv(3, get('c'), null, 0, 1),
    ];
    const result = checkLinearizable(kvModel, history);
    assert.equal(result.result, 'illegal');
    assert.deepEqual(
      result.partitions.map((p) => [p.key, p.operations, p.result]),
      [
        ['a', 2, 'ok'],
        ['b', 2, 'illegal'],
        ['c', 1, 'ok'],
      ],
    );
    assert.equal(result.counterexample?.key, 'b');
    assert.match(
      result.counterexample.text,
      /key "b".*\n.*state 1:\n.*put\(b, 1\).*\n.*\n.*get\(b\) -> null.*impossible in state 1/,
    );
  });
});
