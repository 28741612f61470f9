import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { deadlineSignal } from './deadline-signal.ts';

test('aborts with a TimeoutError after its deadline, and not before', async () => {
  const deadline = deadlineSignal(30.2); // rounded up to 31 ms
  assert.equal(deadline.signal.aborted, false);
  await sleep(10);
  assert.equal(deadline.signal.aborted, false, 'aborted early');
  await sleep(200);
  assert.equal(deadline.signal.aborted, true, 'not aborted 210 ms into a 31 ms deadline');
  assert.equal((deadline.signal.reason as DOMException).name, 'TimeoutError');
});

test('clear() cancels the deadline', async () => {
  const deadline = deadlineSignal(20);
  deadline.clear();
  await sleep(100);
  assert.equal(deadline.signal.aborted, false);
});

test('a deadline of 0 or less aborts at the next timer turn', async () => {
  const deadline = deadlineSignal(0);
  await sleep(50);
  assert.equal(deadline.signal.aborted, true);
});
