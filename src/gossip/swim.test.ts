import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Random } from '../core/random.ts';
import { hasCode } from '../core/errors.ts';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.ts';
import { resolveGossipConfig } from './config.ts';
import { GossipErrorCode } from './errors.ts';
import type { Outgoing } from './events.ts';
import type { Update, WireMember } from './messages.ts';
import { suspicionTimeoutMs, minSuspicionTimeoutMs } from './suspicion.ts';
import { SwimCore } from './swim.ts';

/** A core that already knows `others` as alive at incarnation 0 (as after a join). */
function coreWith(id: string, others: readonly string[], config = {}): SwimCore {
  const core = new SwimCore({ id, random: new Random(7), nowMs: 0, config });
  const members: WireMember[] = others.map((m) => ({ id: m, inc: 0, st: 'alive', meta: {} }));
  core.receive(others[0]!, { t: 'sync', reply: true, members }, 0);
  core.takeOutput();
  return core;
}

function sent(out: { messages: Outgoing[] }, t: string): Outgoing[] {
  return out.messages.filter((m) => m.message.t === t);
}

/** Tick a core at every deadline up to `untilMs`, collecting what it sends. */
function runTimers(core: SwimCore, untilMs: number): Outgoing[] {
  const messages: Outgoing[] = [];
  for (;;) {
    const due = core.nextDeadlineMs();
    if (due > untilMs) return messages;
    core.tick(due);
    messages.push(...core.takeOutput().messages);
  }
}

/** Tick until the core sends its first ping. */
function firstPing(core: SwimCore): { ping: Outgoing; sentMs: number } {
  for (;;) {
    const sentMs = core.nextDeadlineMs();
    core.tick(sentMs);
    const ping = sent(core.takeOutput(), 'ping').at(0);
    if (ping !== undefined) return { ping, sentMs };
  }
}

test('config validation names the knob', () => {
  assert.throws(
    () => resolveGossipConfig({ probeIntervalMs: 0 }),
    (e) => hasCode(e, GossipErrorCode.InvalidConfig),
  );
  assert.throws(
    () => resolveGossipConfig({ probeTimeoutMs: 2000 }),
    (e) => hasCode(e, GossipErrorCode.InvalidConfig) && e.message.includes('probeTimeoutMs'),
  );
  assert.equal(resolveGossipConfig().suspicionMult, 4);
});

test('suspicion timeout starts at max and falls to min as confirmations arrive', () => {
  assert.equal(minSuspicionTimeoutMs(4, 10, 1000), 4000);
  assert.equal(minSuspicionTimeoutMs(4, 3, 1000), 4000); // log10 scale never below 1
  assert.equal(suspicionTimeoutMs(0, 2, 4000, 24_000), 24_000);
  assert.equal(suspicionTimeoutMs(2, 2, 4000, 24_000), 4000);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 20 }), (k, n) => {
      const t = suspicionTimeoutMs(n, k, 1000, 6000);
      assert.ok(t >= 1000 && t <= 6000);
      assert.ok(suspicionTimeoutMs(n + 1, k, 1000, 6000) <= t);
    }),
  );
});

test('broadcast queue: least-sent first, one update per member, bounded, retransmit-limited', () => {
  const queue = new BroadcastQueue(3);
  const alive = (id: string, inc: number): Update => ({ k: 'alive', id, inc, meta: {} });
  queue.push(alive('a', 0));
  queue.push(alive('b', 0));
  assert.deepEqual(
    queue.take(1, 10).map((u) => u.id),
    ['b'],
  ); // newest first among equals
  assert.deepEqual(
    queue.take(1, 10).map((u) => u.id),
    ['a'],
  ); // then the least sent
  queue.push(alive('a', 1)); // replaces a's older update
  assert.equal(queue.size, 2);
  queue.push(alive('c', 0));
  queue.push(alive('d', 0)); // full: drops the most-sent (b)
  assert.equal(queue.size, 3);
  assert.equal(queue.get('b'), undefined);
  for (let i = 0; i < 4; i++) queue.take(3, 4);
  assert.equal(queue.size, 0);
  assert.equal(retransmitLimit(4, 10), 8);
  assert.equal(retransmitLimit(4, 5), 4);
});

test('a suspected member refutes with a higher incarnation, carried on its ack (buddy system)', () => {
  const a = coreWith('a', ['b', 'c']);
  a.receive('b', { t: 'ping', seq: 9, target: 'a', up: [{ k: 'suspect', id: 'a', inc: 0, from: 'b' }] }, 10);
  const ack = sent(a.takeOutput(), 'ack').at(0);
  assert.equal(ack?.to, 'b');
  assert.equal(a.incarnation, 1);
  assert.equal(a.localHealth, 1, 'being suspected raises our own awareness score');
  assert.ok(
    ack.message.t === 'ack' && ack.message.up.some((u) => u.k === 'alive' && u.id === 'a' && u.inc === 1),
  );
});

test('a stale accusation is answered with the refutation, directly to its sender', () => {
  const x = coreWith('x', ['y', 'z']);
  x.receive('y', { t: 'gossip', up: [{ k: 'alive', id: 'y', inc: 2, meta: {} }] }, 5);
  x.takeOutput();
  x.receive('z', { t: 'gossip', up: [{ k: 'suspect', id: 'y', inc: 1, from: 'z' }] }, 6);
  const out = x.takeOutput();
  assert.equal(x.member('y')?.state, 'alive');
  const correction = sent(out, 'gossip')
    .filter((m) => m.to === 'z')
    .at(0);
  assert.ok(correction?.message.t === 'gossip');
  assert.deepEqual(correction.message.up, [{ k: 'alive', id: 'y', inc: 2, meta: {} }]);
});

test('incarnation order: equal or older alive cannot clear a suspicion, a newer one can', () => {
  const a = coreWith('a', ['b', 'c', 'd']);
  a.receive('c', { t: 'gossip', up: [{ k: 'suspect', id: 'b', inc: 0, from: 'c' }] }, 1);
  assert.deepEqual(
    a.takeOutput().events.map((e) => e.type),
    ['suspect'],
  );
  a.receive('d', { t: 'gossip', up: [{ k: 'alive', id: 'b', inc: 0, meta: {} }] }, 2);
  assert.equal(a.member('b')?.state, 'suspect');
  a.receive('b', { t: 'gossip', up: [{ k: 'alive', id: 'b', inc: 1, meta: { role: 'x' } }] }, 3);
  assert.deepEqual(
    a.takeOutput().events.map((e) => e.type),
    ['alive', 'update'],
  );
  assert.equal(a.member('b')?.state, 'alive');
  // A death notice about an older incarnation is ignored; a current one is not.
  a.receive('c', { t: 'gossip', up: [{ k: 'dead', id: 'b', inc: 0, from: 'c' }] }, 4);
  assert.equal(a.member('b')?.state, 'alive');
  a.receive('c', { t: 'gossip', up: [{ k: 'dead', id: 'b', inc: 1, from: 'c' }] }, 5);
  assert.equal(a.member('b')?.state, 'dead');
});

test('a failed probe: ping, then ping-req to k helpers after the timeout, then suspicion', () => {
  const a = coreWith('a', ['b', 'c', 'd', 'e']);
  const { ping, sentMs } = firstPing(a);
  const target = ping.to;
  assert.ok(ping.message.t === 'ping');
  assert.equal(runTimers(a, sentMs + 499).filter((m) => m.message.t === 'preq').length, 0);
  const requests = runTimers(a, sentMs + 500).filter((m) => m.message.t === 'preq');
  assert.equal(requests.length, 3);
  assert.ok(requests.every((r) => r.to !== target && r.message.t === 'preq' && r.message.target === target));
  // One helper answers with a nack, two say nothing: the missing nacks count against us.
  a.receive(requests[0]!.to, { t: 'nack', seq: ping.message.seq }, sentMs + 600);
  runTimers(a, sentMs + 1000);
  assert.equal(a.member(target)?.state, 'suspect');
  assert.equal(a.localHealth, 2);
});

test('an ack ends the probe, lowers the awareness score and feeds Vivaldi', () => {
  const a = coreWith('a', ['b']);
  a.receive('b', { t: 'gossip', up: [{ k: 'suspect', id: 'a', inc: 0, from: 'b' }] }, 0);
  assert.equal(a.localHealth, 1);
  const [ping] = runTimers(a, 1000).filter((m) => m.message.t === 'ping');
  assert.ok(ping?.message.t === 'ping');
  const coord = { vec: [0.01, 0, 0, 0, 0, 0, 0, 0], error: 0.5, adjustment: 0, height: 0.001 };
  a.receive('b', { t: 'ack', seq: ping.message.seq, coord, up: [] }, a.nextDeadlineMs() - 400);
  assert.equal(a.localHealth, 0);
  assert.deepEqual(a.coordinate('b'), coord);
  assert.ok((a.estimateRttMs('a', 'b') ?? 0) > 0);
});

test('an ack with an unusable coordinate still counts as an ack', () => {
  const a = coreWith('a', ['b']);
  const { ping, sentMs } = firstPing(a);
  assert.ok(ping.message.t === 'ping');
  const coord = { vec: [1, 2, 3], error: 1, adjustment: 0, height: 0 }; // 3 dimensions, not 8
  a.receive('b', { t: 'ack', seq: ping.message.seq, coord, up: [] }, sentMs + 100);
  assert.deepEqual(
    runTimers(a, sentMs + 999).filter((m) => m.message.t === 'preq'),
    [],
  );
  assert.equal(a.coordinate('b'), undefined);
});

test('a relay pings the target for the requester and nacks it when no ack comes', () => {
  const r = coreWith('r', ['a', 't']);
  r.receive('a', { t: 'preq', seq: 42, target: 't' }, 100);
  const ping = sent(r.takeOutput(), 'ping').at(0);
  assert.equal(ping?.to, 't');
  assert.ok(ping.message.t === 'ping');
  r.receive('t', { t: 'ack', seq: ping.message.seq, coord: null, up: [] }, 150);
  const forwarded = sent(r.takeOutput(), 'ack').at(0);
  assert.equal(forwarded?.to, 'a');
  assert.ok(forwarded.message.t === 'ack' && forwarded.message.seq === 42);
  r.receive('a', { t: 'preq', seq: 43, target: 't' }, 200);
  r.takeOutput();
  const nacks = runTimers(r, 700).filter((m) => m.message.t === 'nack');
  assert.deepEqual(
    nacks.map((m) => [m.to, m.message]),
    [['a', { t: 'nack', seq: 43 }]],
  );
});

test('malformed messages are dropped without throwing or changing state', () => {
  const a = coreWith('a', ['b']);
  fc.assert(
    fc.property(fc.anything(), (junk) => {
      a.receive('b', junk, 1);
      a.receive('b', { t: 'ping', seq: 1, target: 'a', up: [junk] }, 1);
      a.receive('b', { t: 'sync', reply: true, members: [junk] }, 1);
    }),
  );
  assert.equal(a.incarnation, 0);
  assert.deepEqual(
    a
      .members()
      .map((m) => m.id)
      .sort(),
    ['a', 'b'],
  );
});

test('the member table is bounded by maxMembers, and so are sync messages', () => {
  const many = Array.from({ length: 100 }, (_, i) => `m${i}`);
  const members: WireMember[] = many.map((m) => ({ id: m, inc: 0, st: 'alive', meta: {} }));
  const a = coreWith('a', ['b'], { maxMembers: 10 });
  a.receive('b', { t: 'sync', reply: true, members }, 1);
  assert.equal(a.members().length, 2, 'a sync longer than maxMembers is dropped whole');
  a.receive('b', { t: 'sync', reply: true, members: members.slice(0, 10) }, 2);
  assert.equal(a.members().length, 10, 'the table stops at maxMembers');
});

test('a leaving member announces it and no longer refutes', () => {
  const a = coreWith('a', ['b', 'c']);
  a.leave(10);
  const gossip = sent(a.takeOutput(), 'gossip');
  assert.ok(gossip.length > 0);
  assert.ok(
    gossip.every(
      (g) => g.message.t === 'gossip' && g.message.up.some((u) => u.k === 'dead' && u.from === 'a'),
    ),
  );
  a.receive('b', { t: 'gossip', up: [{ k: 'suspect', id: 'a', inc: 0, from: 'b' }] }, 11);
  assert.equal(a.incarnation, 0);
  const b = coreWith('b', ['a', 'c']);
  b.receive('a', gossip[0]!.message, 12);
  assert.deepEqual(
    b.takeOutput().events.map((e) => [e.type, e.member.id]),
    [['leave', 'a']],
  );
});

test('metadata must be flat and bounded', () => {
  const a = coreWith('a', ['b'], { maxMetadataKeys: 2 });
  assert.throws(
    () => {
      a.updateMetadata({ x: 1, y: 2, z: 3 }, 1);
    },
    (e) => hasCode(e, GossipErrorCode.InvalidMetadata),
  );
  assert.throws(
    () => {
      a.updateMetadata({ nested: {} as unknown as string }, 1);
    },
    (e) => hasCode(e, GossipErrorCode.InvalidMetadata),
  );
  a.updateMetadata({ role: 'web', cpu: 0.5 }, 1);
  assert.equal(a.incarnation, 1);
  // The same bound applies to what others send: an oversized alive update is dropped.
  a.receive('b', { t: 'gossip', up: [{ k: 'alive', id: 'c', inc: 0, meta: { x: 1, y: 2, z: 3 } }] }, 2);
  assert.equal(a.member('c'), undefined);
  a.receive('b', { t: 'gossip', up: [{ k: 'alive', id: 'c', inc: 0, meta: { x: 1, y: 2 } }] }, 3);
  assert.equal(a.member('c')?.state, 'alive');
});
