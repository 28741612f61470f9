import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasCode } from '../core/errors.ts';
import { VirtualClock } from '../core/clock.ts';
import { HistoryRecorder, Indeterminate } from './history.ts';
import type { Model } from './linearizability-model.ts';
import { checkLinearizable } from './linearizability.ts';
import { op } from './linearizability-fixtures.ts';
import { registerModel, type RegisterInput, type RegisterOutput } from './models/register.ts';

const put = (value: number): RegisterInput => ({ op: 'put', value });
const get: RegisterInput = { op: 'get' };
const X: typeof Indeterminate = Indeterminate;
const reg = op<RegisterInput, RegisterOutput>;

function verdict(history: ReturnType<typeof op<RegisterInput, RegisterOutput>>[]): string {
  return checkLinearizable(registerModel, history).result;
}

describe('checkLinearizable with the register model', () => {
  it('accepts the empty history and a read of the initial value', () => {
    assert.equal(verdict([]), 'ok');
    assert.equal(verdict([reg(1, get, null, 0, 1)]), 'ok');
    assert.equal(verdict([reg(1, get, 1, 0, 1)]), 'illegal');
  });

  it('accepts a sequential history and rejects a stale read after a completed write', () => {
    assert.equal(verdict([reg(1, put(1), undefined, 0, 1), reg(2, get, 1, 2, 3)]), 'ok');
    const stale = [reg(1, put(1), undefined, 0, 1), reg(1, put(2), undefined, 2, 3), reg(2, get, 1, 4, 5)];
    assert.equal(verdict(stale), 'illegal');
  });

  it('accepts a read overlapping a write returning either the old or the new value', () => {
    for (const seen of [null, 1]) {
      assert.equal(verdict([reg(1, put(1), undefined, 0, 10), reg(2, get, seen, 5, 6)]), 'ok');
    }
  });

  it('accepts concurrent writes read in either order, but not both orders by sequential reads', () => {
    const writes = [reg(1, put(1), undefined, 0, 10), reg(2, put(2), undefined, 0, 10)];
    assert.equal(verdict([...writes, reg(3, get, 1, 11, 12)]), 'ok');
    assert.equal(verdict([...writes, reg(3, get, 2, 11, 12)]), 'ok');
    // During the writes a reader may see 2 then 1 (put 2, get, put 1, get) ...
    assert.equal(verdict([...writes, reg(3, get, 2, 1, 2), reg(3, get, 1, 3, 4)]), 'ok');
    // ... but once both writes are done, the value cannot change any more.
    assert.equal(verdict([...writes, reg(3, get, 2, 11, 12), reg(3, get, 1, 13, 14)]), 'illegal');
  });

  it('rejects a read that sees a value before its write was invoked', () => {
    assert.equal(verdict([reg(2, get, 1, 0, 1), reg(1, put(1), undefined, 2, 3)]), 'illegal');
  });

  it('treats touching intervals (equal positions) as concurrent', () => {
    assert.equal(verdict([reg(1, put(1), undefined, 0, 5), reg(2, get, null, 5, 6)]), 'ok');
    assert.equal(verdict([reg(1, put(1), undefined, 0, 5), reg(2, get, null, 6, 7)]), 'illegal');
  });

  it('lets a timed-out write take effect at any later point, or never', () => {
    const timedOut = reg(1, put(1), X, 0, Infinity);
    assert.equal(verdict([timedOut, reg(2, get, 1, 100, 101)]), 'ok', 'observed later');
    assert.equal(verdict([timedOut, reg(2, get, null, 100, 101)]), 'ok', 'never observed');
    assert.equal(verdict([timedOut, reg(2, get, null, 100, 101), reg(2, get, 1, 200, 201)]), 'ok', 'late');
    // Once seen it has happened: a later read cannot miss it.
    const unseen = [timedOut, reg(2, get, 1, 100, 101), reg(2, get, null, 200, 201)];
    assert.equal(verdict(unseen), 'illegal');
  });

  it('does not let a timed-out write take effect before its invocation', () => {
    assert.equal(verdict([reg(2, get, 1, 0, 1), reg(1, put(1), X, 2, Infinity)]), 'illegal');
  });

  it('drops timed-out reads: they constrain nothing', () => {
    const result = checkLinearizable(registerModel, [reg(1, get, X, 0, Infinity), reg(2, get, null, 1, 2)]);
    assert.equal(result.result, 'ok');
    assert.equal(result.partitions[0]?.operations, 1);
  });

  it('explains an illegal history with the longest prefix and the blocked operations', () => {
    const history = [
      reg('a', put(1), undefined, 0, 1),
      reg('b', put(2), undefined, 2, 3),
      reg('c', get, 2, 4, 5),
      reg('c', get, 1, 6, 7),
    ];
    const result = checkLinearizable(registerModel, history);
    assert.equal(result.result, 'illegal');
    const counterexample = result.counterexample;
    assert.ok(counterexample !== undefined);
    assert.equal(counterexample.key, 'all');
    assert.deepEqual(
      counterexample.linearized.map((o) => o.id),
      history.slice(0, 3).map((o) => o.id),
    );
    assert.equal(counterexample.stateAfter, '2');
    assert.deepEqual(
      counterexample.blocked.map((o) => o.id),
      [history[3]!.id],
    );
    assert.match(counterexample.text, /longest linearizable prefix \(3 operations\), leaving state 2/);
    assert.match(counterexample.text, /client c get\(\) -> 1 \[6\.\.7\]: impossible in state 2/);
  });

  it('shows only the end of a long prefix in the text', () => {
    const writes = Array.from({ length: 30 }, (_, i) => reg(1, put(i), undefined, 2 * i, 2 * i + 1));
    const result = checkLinearizable(registerModel, [...writes, reg(2, get, 0, 100, 101)]);
    assert.equal(result.counterexample?.linearized.length, 30);
    const text = result.counterexample.text;
    assert.match(text, /\n {2}\.\.\. 10 earlier operations\n {2}11\. client 1 put\(10\)/);
    assert.match(
      text,
      /30\. client 1 put\(29\).*\n.*\n.*get\(\) -> 0 \[100\.\.101\]: impossible in state 29/,
    );
  });

  it('answers unknown when the time budget runs out, and when the cache is full', () => {
    // 12 concurrent timed-out writes and a read of a value nobody wrote: illegal, but only after
    // exploring every subset of the writes.
    const writes = Array.from({ length: 12 }, (_, i) => reg(i, put(i), X, 0, Infinity));
    const hard = [...writes, reg(99, get, 1000, 1, 2)];
    let fakeNowMs = 0;
    const slow = checkLinearizable(registerModel, hard, { timeoutMs: 50, now: () => (fakeNowMs += 10) });
    assert.equal(slow.result, 'unknown');
    assert.equal(slow.partitions[0]?.reason, 'timeout');
    const small = checkLinearizable(registerModel, hard, { maxCacheBytes: 10_000 });
    assert.equal(small.result, 'unknown');
    assert.equal(small.partitions[0]?.reason, 'cache-limit');
    assert.equal(checkLinearizable(registerModel, hard).result, 'illegal');
  });

  it('rejects malformed histories with a clear error', () => {
    const backwards = () => checkLinearizable(registerModel, [reg(1, get, null, 5, 4)]);
    assert.throws(backwards, (e) => hasCode(e, 'SKEIN_INVALID_ARGUMENT') && /before call/.test(e.message));
    const first = reg(1, get, null, 0, 1);
    const duplicate = () => checkLinearizable(registerModel, [first, { ...first }]);
    assert.throws(duplicate, (e) => hasCode(e, 'SKEIN_INVALID_ARGUMENT') && /duplicate/.test(e.message));
  });
});

describe('checkLinearizable with a user-defined model', () => {
  // The counter from docs/testing-linearizability.md.
  type CounterInput = { op: 'add'; delta: number } | { op: 'read' };
  const counterModel: Model<number, CounterInput, number | undefined> = {
    init: () => 0,
    step(state, input, output) {
      if (input.op === 'add') return { ok: true, state: state + input.delta };
      return output === Indeterminate || output === state ? { ok: true, state } : { ok: false };
    },
    equal: (a, b) => a === b,
    hash: (s) => s | 0,
    readOnly: (input) => input.op === 'read',
    describeOperation: (input, output) =>
      input.op === 'add' ? `add(${input.delta})` : `read() -> ${String(output)}`,
  };
  const counter = op<CounterInput, number | undefined>;

  it('checks histories of a counter, recorded or hand-built', () => {
    const clock = new VirtualClock();
    const history = new HistoryRecorder<CounterInput, number | undefined>(clock);
    const a = history.invoke('a', { op: 'add', delta: 2 });
    const b = history.invoke('b', { op: 'add', delta: 3 });
    clock.advance(1);
    const r = history.invoke('c', { op: 'read' });
    history.ok(r, 3); // b took effect first, a not yet
    history.ok(a, undefined);
    history.ok(b, undefined);
    assert.equal(checkLinearizable(counterModel, history).result, 'ok');
    const bad = [counter(1, { op: 'add', delta: 2 }, undefined, 0, 1), counter(2, { op: 'read' }, 3, 2, 3)];
    const result = checkLinearizable(counterModel, bad);
    assert.equal(result.result, 'illegal');
    assert.match(
      result.counterexample?.text ?? '',
      /client 2 read\(\) -> 3 \[2\.\.3\]: impossible in state 2/,
    );
  });
});
