import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../core/clock.ts';
import { CommitNotices, promptNoticeWindowMs } from './commit-notices.ts';
import type { HeartbeatRequest } from './types.ts';

/** Commit notices on a virtual clock; "the next turn" is whatever `turn()` runs. */
function harness(delayMs = 5): {
  clock: VirtualClock;
  notices: CommitNotices;
  sent: string[];
  turn: () => void;
} {
  const clock = new VirtualClock();
  const sent: string[] = [];
  let queued: (() => void)[] = [];
  const notices = new CommitNotices({
    clock,
    defer: (fn) => queued.push(fn),
    send: (n) => sent.push(`${n.to}@${n.commit}`),
    delayMs,
  });
  const turn = (): void => {
    const due = queued;
    queued = [];
    for (const fn of due) fn();
  };
  return { clock, notices, sent, turn };
}

const notice = (to: string, commit: number): HeartbeatRequest => ({
  type: 'heartbeat',
  to,
  from: 'leader',
  term: 1,
  clusterId: 'c',
  commit,
  readRound: 0,
  commitOnly: true,
  sentTick: 0,
});

test('a notice waits the delay, and only the newest per follower goes out', () => {
  const { clock, notices, sent, turn } = harness(5);
  notices.hold(notice('b', 3));
  notices.hold(notice('b', 4));
  notices.hold(notice('c', 4));
  turn();
  clock.advance(4);
  assert.deepEqual(sent, []);
  clock.advance(1);
  assert.deepEqual(sent, ['b@4', 'c@4']);
});

test('an append that carries the commit makes the notice redundant; an older commit does not', () => {
  const { clock, notices, sent } = harness(5);
  notices.hold(notice('b', 4));
  notices.hold(notice('c', 4));
  notices.carried('b', 4);
  notices.carried('c', 3);
  clock.advance(5);
  assert.deepEqual(sent, ['c@4']);
});

test('a follower that forwarded a proposal is told on the next turn, for the prompt window only', () => {
  const { clock, notices, sent, turn } = harness(5);
  notices.hold(notice('b', 2)); // waiting when b asks: it goes out at once
  notices.prompt('b');
  turn();
  assert.deepEqual(sent, ['b@2']);
  notices.hold(notice('b', 3));
  turn();
  assert.deepEqual(sent, ['b@2', 'b@3']);
  clock.advance(promptNoticeWindowMs + 1);
  notices.hold(notice('b', 4));
  turn();
  assert.deepEqual(sent, ['b@2', 'b@3'], 'the window is over: the notice waits again');
  clock.advance(5);
  assert.deepEqual(sent, ['b@2', 'b@3', 'b@4']);
});

test('delay 0 sends every notice on the next turn; close sends nothing more', () => {
  const { clock, notices, sent, turn } = harness(0);
  notices.hold(notice('b', 1));
  assert.deepEqual(sent, []);
  turn();
  assert.deepEqual(sent, ['b@1']);
  notices.hold(notice('b', 2));
  notices.close();
  turn();
  clock.advance(10);
  assert.deepEqual(sent, ['b@1']);
  assert.throws(
    () => new CommitNotices({ clock, defer: () => undefined, send: () => undefined, delayMs: -1 }),
    {
      code: 'SKEIN_INVALID_CONFIG',
    },
  );
});
