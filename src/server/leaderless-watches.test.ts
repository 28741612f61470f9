// A member that knows no leader ends its watches and refuses new ones, on the virtual clock.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { VirtualClock } from '../core/clock.ts';
import type { SkeinError } from '../core/errors.ts';
import { silentLogger } from '../core/log.ts';
import { KvStore } from '../kv/store.ts';
import { LeaderlessWatches, type LeaderSource } from './leaderless-watches.ts';
import { WatchHub, type WatchSink } from './watch-hub.ts';

class FakeNode extends EventEmitter implements LeaderSource {
  leaderId: string | null;

  constructor(leaderId: string | null) {
    super();
    this.leaderId = leaderId;
  }

  setLeader(leaderId: string | null): void {
    this.leaderId = leaderId;
    this.emit('leader', leaderId, 1);
  }
}

function setup(leaderId: string | null) {
  const clock = new VirtualClock();
  const node = new FakeNode(leaderId);
  const watches = new WatchHub({ store: new KvStore(), clock });
  const guard = new LeaderlessWatches({ node, watches, clock, logger: silentLogger, noLeaderMs: 2000 });
  const ended: (string | undefined)[] = [];
  const watch = (): number => {
    const sink: WatchSink = {
      send: () => true,
      onDrain: () => undefined,
      close: (error?: SkeinError) => ended.push(error?.code),
    };
    const { id } = watches.add({ key: 'k' }, sink);
    watches.start(id);
    return id;
  };
  return { clock, node, watches, guard, ended, watch };
}

describe('LeaderlessWatches', () => {
  it('ends every watch with SKEIN_NO_LEADER after noLeaderMs without a leader, and refuses new ones until one is known', () => {
    const { clock, node, watches, guard, ended, watch } = setup('m1');
    watch();
    watch();
    node.setLeader(null);
    clock.advance(1999);
    assert.deepEqual(ended, []);
    clock.advance(1);
    assert.deepEqual(ended, ['SKEIN_NO_LEADER', 'SKEIN_NO_LEADER']);
    assert.equal(watches.size, 0);
    assert.throws(watch, { code: 'SKEIN_NO_LEADER' });
    node.setLeader('m2');
    watch();
    assert.equal(watches.size, 1);
    guard.stop();
  });

  it('leaves watches alone through an election shorter than noLeaderMs', () => {
    const { clock, node, watches, guard, ended, watch } = setup('m1');
    watch();
    node.setLeader(null);
    clock.advance(1500);
    node.setLeader('m2');
    clock.advance(5000);
    node.setLeader(null); // the count starts again from here
    clock.advance(1500);
    assert.deepEqual(ended, []);
    assert.equal(watches.size, 1);
    guard.stop();
  });

  it('counts from start-up on a member that has no leader yet; stop() ends the count', () => {
    const started = setup(null);
    started.watch();
    started.clock.advance(2000);
    assert.deepEqual(started.ended, ['SKEIN_NO_LEADER']);
    started.guard.stop();

    const stopped = setup(null);
    stopped.watch();
    stopped.guard.stop();
    stopped.clock.advance(10_000);
    assert.deepEqual(stopped.ended, []);
  });
});
