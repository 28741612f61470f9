import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../core/clock.ts';
import { hasCode } from '../core/errors.ts';
import { HistoryRecorder, Indeterminate } from './history.ts';
import { checkLinearizable } from './linearizability.ts';
import { kvModel, type KvInput, type KvOutput } from './models/kv.ts';

describe('HistoryRecorder', () => {
  it('records intervals in clock order, breaking ties by recording order', () => {
    const clock = new VirtualClock(100);
    const history = new HistoryRecorder<KvInput, KvOutput>(clock);
    const write = history.invoke('a', { op: 'put', key: 'x', value: 1 });
    history.ok(write, undefined); // same clock reading as the invocation
    const read = history.invoke('b', { op: 'get', key: 'x' });
    clock.advance(5);
    history.ok(read, 1);
    const [w, r] = history.operations();
    assert.ok(w !== undefined && r !== undefined);
    assert.deepEqual([w.call, w.return, r.call, r.return], [0, 1, 2, 3]);
    assert.deepEqual([w.callMs, w.returnMs, r.callMs, r.returnMs], [100, 100, 100, 105]);
    // The write returned before the read was invoked (same millisecond): a read of null is stale.
    const stale = new HistoryRecorder<KvInput, KvOutput>(clock);
    stale.ok(stale.invoke('a', { op: 'put', key: 'x', value: 1 }), undefined);
    stale.ok(stale.invoke('b', { op: 'get', key: 'x' }), null);
    assert.equal(checkLinearizable(kvModel, stale.operations()).result, 'illegal');
  });

  it('drops failed operations and makes timed-out and pending ones indeterminate', () => {
    const clock = new VirtualClock();
    const history = new HistoryRecorder<KvInput, KvOutput>(clock);
    history.fail(history.invoke('a', { op: 'put', key: 'x', value: 1 }));
    history.timeout(history.invoke('a', { op: 'put', key: 'x', value: 2 }));
    history.invoke('b', { op: 'put', key: 'x', value: 3 });
    assert.equal(history.size, 3);
    const ops = history.operations();
    assert.deepEqual(
      ops.map((o) => [o.id, o.output, o.return]),
      [
        [1, Indeterminate, Infinity],
        [2, Indeterminate, Infinity],
      ],
    );
  });

  it('refuses to resolve an operation twice, a clock that goes back, and too many operations', () => {
    let nowMs = 10;
    const history = new HistoryRecorder<KvInput, KvOutput>({ now: () => nowMs }, { maxOperations: 2 });
    const id = history.invoke('a', { op: 'get', key: 'x' });
    history.ok(id, null);
    assert.throws(() => {
      history.timeout(id);
    }, /already ok/);
    assert.throws(() => {
      history.ok(99, null);
    }, /no such operation/);
    nowMs = 5;
    assert.throws(
      () => history.invoke('a', { op: 'get', key: 'x' }),
      (e) => hasCode(e, 'SKEIN_INVALID_ARGUMENT'),
    );
    nowMs = 20;
    history.invoke('a', { op: 'get', key: 'x' });
    assert.throws(
      () => history.invoke('a', { op: 'get', key: 'x' }),
      (e) => hasCode(e, 'SKEIN_INVALID_ARGUMENT') && /maxOperations/.test(e.message),
    );
  });
});
