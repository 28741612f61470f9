import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../src/core/random.ts';
import { createTcpTransport, type TcpTransport } from '../../src/transport/index.ts';
import { encodeHello } from '../../src/transport/handshake.ts';
import { frame, waitFor } from '../../src/transport/test-kit.ts';
import { FaultProxy } from './fault-proxy.ts';
import { dialerIdOf } from './hello.ts';

const SECRET = 'fault-proxy-test-secret-0123456789';

describe('dialerIdOf', () => {
  test('needs the whole id, then names the dialer; anything else is not a HELLO', () => {
    const hello = frame(encodeHello(Buffer.alloc(32, 7), 'node-7', '127.0.0.1:9'));
    const idEnd = 4 + 1 + 3 + 1 + 32 + 1 + 'node-7'.length;
    for (let n = 0; n < idEnd; n++) assert.equal(dialerIdOf(hello.subarray(0, n)), undefined, `${n} bytes`);
    assert.equal(dialerIdOf(hello.subarray(0, idEnd)), 'node-7');
    assert.equal(dialerIdOf(hello), 'node-7');
    assert.equal(dialerIdOf(Buffer.from('GET / HTTP/1.1\r\n')), null);
  });
});

/** Three transports a, b, c whose peers dial each other only through the proxy. */
describe('FaultProxy between three TCP transports', () => {
  const ids = ['a', 'b', 'c'];
  const proxy = new FaultProxy({ random: new Random(42) });
  const nodes = new Map<string, TcpTransport>();
  const inbox = new Map<string, { from: string; seq: number; atMs: number }[]>();

  before(async () => {
    for (const id of ids) {
      const t = await createTcpTransport({
        id,
        listen: { host: '127.0.0.1', port: 0 },
        clusterSecret: SECRET,
        reconnectMinMs: 20,
        reconnectMaxMs: 200,
      });
      nodes.set(id, t);
      inbox.set(id, []);
      t.setHandler((from, message) => {
        inbox.get(id)!.push({ from, seq: message as number, atMs: performance.now() });
      });
    }
    for (const id of ids) await proxy.expose(id, nodes.get(id)!.address);
    for (const a of ids)
      for (const b of ids) if (a !== b) nodes.get(a)!.setPeerAddress(b, proxy.addressOf(b));
  });
  after(async () => {
    await Promise.all([...nodes.values()].map((t) => t.close()));
    await proxy.close();
  });

  const got = (to: string, from: string): number[] =>
    inbox
      .get(to)!
      .filter((m) => m.from === from)
      .map((m) => m.seq);

  test('passes messages in order; a one-way blackhole loses only that direction; heal restores it', async () => {
    for (let i = 0; i < 100; i++) nodes.get('a')!.send('b', i);
    await waitFor('b to get 100 from a', () => got('b', 'a').length === 100);
    assert.deepEqual(
      got('b', 'a'),
      Array.from({ length: 100 }, (_, i) => i),
    );

    proxy.blockOneWay(['a'], ['b']);
    for (let i = 100; i < 110; i++) nodes.get('a')!.send('b', i);
    for (let i = 0; i < 10; i++) nodes.get('b')!.send('a', i);
    await waitFor('a to hear b', () => got('a', 'b').length === 10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(got('b', 'a').length, 100, 'nothing crossed the blackholed direction');
    assert.ok(proxy.stats().framesLost >= 10);

    proxy.heal();
    nodes.get('a')!.send('b', 200);
    await waitFor('b to hear a after heal', () => got('b', 'a').includes(200));
    // The stream stayed valid: whole frames were lost, the connection never broke.
    assert.deepEqual(got('b', 'a').slice(100), [200]);
  });

  test('delay holds every message at least delayMs and keeps the order', async () => {
    proxy.slow(ids, 80, 40);
    const sentAtMs = performance.now();
    for (let i = 0; i < 20; i++) nodes.get('c')!.send('a', 1000 + i);
    await waitFor('a to get 20 from c', () => got('a', 'c').length === 20, 10_000);
    const arrivals = inbox.get('a')!.filter((m) => m.from === 'c');
    assert.deepEqual(
      arrivals.map((m) => m.seq),
      Array.from({ length: 20 }, (_, i) => 1000 + i),
    );
    // The first message also waits for the connection's handshake, itself delayed in both directions.
    assert.ok(
      arrivals.every((m) => m.atMs - sentAtMs >= 80),
      'no message beat the delay',
    );
    proxy.heal();
  });

  test('refuse closes the connections of the link; the dialer gets through again after heal', async () => {
    proxy.setLink('b', 'c', { kind: 'refuse' });
    for (let i = 0; i < 5; i++) nodes.get('b')!.send('c', i);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(got('c', 'b').length, 0);
    assert.ok(proxy.stats().connectionsRefused >= 1, 'the dial was refused');
    proxy.heal();
    nodes.get('b')!.send('c', 99);
    await waitFor('c to hear b after heal', () => got('c', 'b').includes(99), 5000);
  });
});
