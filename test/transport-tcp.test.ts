import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTcpTransport, type TcpTransport, type TcpTransportOptions } from '../src/transport/index.ts';
import { captureLogs, stalledListener, waitFor } from '../src/transport/test-kit.ts';
import { selfSignedCert } from './support/self-signed.ts';

const SECRET = 'test-cluster-secret-0123456789abcdef';
const LOCAL = { host: '127.0.0.1', port: 0 };

type Received = { from: string; message: unknown }[];

async function node(
  id: string,
  extra: Partial<TcpTransportOptions> = {},
): Promise<{ t: TcpTransport; got: Received }> {
  const t = await createTcpTransport({
    id,
    listen: LOCAL,
    clusterSecret: SECRET,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    ...extra,
  });
  const got: Received = [];
  t.setHandler((from, message) => got.push({ from, message }));
  return { t, got };
}

test('three transports exchange messages in per-peer order, including frames near maxFrameBytes', async () => {
  const maxFrameBytes = 1 << 20;
  const nodes = await Promise.all(['a', 'b', 'c'].map((id) => node(id, { maxFrameBytes })));
  try {
    for (const x of nodes) for (const y of nodes) x.t.setPeerAddress(y.t.localId, y.t.address);
    const count = 300;
    for (let i = 0; i < count; i++) {
      for (const x of nodes)
        for (const y of nodes) if (x !== y) x.t.send(y.t.localId, { seq: i, to: y.t.localId });
    }
    await waitFor('all messages', () => nodes.every((n) => n.got.length === 2 * count));
    for (const n of nodes) {
      for (const sender of ['a', 'b', 'c'].filter((id) => id !== n.t.localId)) {
        const seqs = n.got.filter((r) => r.from === sender).map((r) => (r.message as { seq: number }).seq);
        assert.deepEqual(
          seqs,
          Array.from({ length: count }, (_, i) => i),
          `order from ${sender} at ${n.t.localId}`,
        );
      }
    }
    // msgpack bin8/16/32 header + map overhead is < 64 bytes: this frame is within 64 bytes of the limit.
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const big = Buffer.alloc(maxFrameBytes - 64, 0x5a);
    b.got.length = 0;
    a.t.send('b', { big });
    a.t.send('b', { big: Buffer.alloc(maxFrameBytes) }); // over the limit: dropped at the sender
    a.t.send('b', { after: true });
    await waitFor('large message and the one after it', () => b.got.length === 2);
    assert.ok(Buffer.from((b.got[0]!.message as { big: Uint8Array }).big).equals(big));
    assert.deepEqual(b.got[1]!.message, { after: true });
    assert.equal(a.t.stats().msgsDropped, 1);
  } finally {
    await Promise.all(nodes.map((n) => n.t.close()));
  }
});

test('a dialed peer learns the dialer address and replies; self-sends are delivered; a throwing handler is survived', async () => {
  const logs = captureLogs();
  const a = await node('a');
  const b = await node('b', { logger: logs.logger });
  try {
    let calls = 0;
    b.t.setHandler((from, message) => {
      calls++;
      if (calls === 1) throw new Error('handler bug');
      b.t.send(from, { echo: message });
    });
    a.t.setPeerAddress('b', b.t.address);
    a.t.send('b', 1);
    a.t.send('b', 2);
    a.t.send('a', 'to myself');
    await waitFor('echo of the second message and the self-send', () => a.got.length === 2);
    assert.deepEqual(
      a.got.map((r) => r.message),
      ['to myself', { echo: 2 }],
    );
    assert.ok(logs.codes().includes('SKEIN_HANDLER_FAILED'));
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('reconnects after the peer restarts; messages queued during the outage arrive in order', async () => {
  const a = await node('a');
  let b = await node('b');
  const port = Number(b.t.address.split(':')[1]);
  try {
    a.t.setPeerAddress('b', b.t.address);
    a.t.send('b', 'before');
    await waitFor('first message', () => b.got.length === 1);
    const disconnected = new Promise((resolve) => a.t.once('peerDisconnected', resolve));
    await b.t.close();
    await disconnected;
    for (let i = 0; i < 5; i++) a.t.send('b', { during: i });
    b = await node('b', { listen: { host: '127.0.0.1', port } });
    await waitFor('messages queued during the outage', () => b.got.length === 5);
    assert.deepEqual(
      b.got.map((r) => r.message),
      [0, 1, 2, 3, 4].map((i) => ({ during: i })),
    );
    for (let i = 0; i < 20; i++) a.t.send('b', { after: i });
    await waitFor('messages after reconnect', () => b.got.length === 25);
    assert.ok(a.t.stats().peers['b']!.connects >= 2);
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('a wrong cluster secret is refused on both sides with SKEIN_AUTH_FAILED and nothing is delivered', async () => {
  const aLogs = captureLogs();
  const bLogs = captureLogs();
  // Slow retries, so the assertions below see exactly one attempt.
  const a = await node('a', {
    logger: aLogs.logger,
    clusterSecret: 'a-different-secret-of-enough-bytes',
    reconnectMinMs: 60_000,
    reconnectMaxMs: 60_000,
  });
  const b = await node('b', { logger: bLogs.logger });
  try {
    const rejected: string[] = [];
    const authFailed: (string | undefined)[] = [];
    b.t.on('connectionRejected', (info) => rejected.push(info.code));
    b.t.on('authFailed', (info) => authFailed.push(info.peerId));
    a.t.setPeerAddress('b', b.t.address);
    a.t.send('b', { secret: 'must not arrive' });
    await waitFor('auth failure logged on both sides', () =>
      [aLogs, bLogs].every((l) => l.codes().includes('SKEIN_AUTH_FAILED')),
    );
    const line = bLogs.lines.find((l) => l.code === 'SKEIN_AUTH_FAILED')!;
    assert.equal(line.level, 40, 'logged at warn');
    assert.match(line.msg, /cluster secret/);
    assert.equal(line['peer'], 'a');
    assert.deepEqual(rejected, ['SKEIN_AUTH_FAILED']);
    assert.deepEqual(authFailed, ['a']);
    assert.equal(b.got.length, 0);
    assert.equal(b.t.stats().authFailures, 1);
    assert.equal(b.t.stats().msgsReceived, 0);
    assert.equal(a.t.stats().peers['b']!.connected, false);
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('dialing an address where another node answers is refused with SKEIN_PEER_ID_MISMATCH', async () => {
  const logs = captureLogs();
  const a = await node('a', { logger: logs.logger });
  const b = await node('b');
  try {
    a.t.setPeerAddress('c', b.t.address);
    a.t.send('c', 'x');
    await waitFor('mismatch logged', () => logs.codes().includes('SKEIN_PEER_ID_MISMATCH'));
    assert.equal(b.got.length, 0);
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('the send buffer stays bounded under a stalled peer, and other peers are unaffected', async () => {
  const maxPeerSendBufferBytes = 1 << 20;
  const logs = captureLogs();
  const a = await node('a', { maxPeerSendBufferBytes, logger: logs.logger });
  const c = await node('c');
  const stalled = await stalledListener('b', SECRET);
  try {
    a.t.setPeerAddress('b', `127.0.0.1:${stalled.port}`);
    a.t.setPeerAddress('c', c.t.address);
    const connected = new Promise((resolve) => a.t.once('peerConnected', resolve));
    a.t.send('b', 'hello');
    await connected;
    const chunk = Buffer.alloc(16 * 1024);
    let sent = 1;
    let maxBuffered = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 100; i++, sent++) a.t.send('b', chunk);
      a.t.send('c', { round });
      await new Promise((resolve) => setTimeout(resolve, 2));
      maxBuffered = Math.max(maxBuffered, a.t.stats().peers['b']!.bufferedBytes);
    }
    const peer = a.t.stats().peers['b']!;
    assert.ok(maxBuffered <= maxPeerSendBufferBytes, `buffered ${maxBuffered} bytes`);
    assert.ok(peer.msgsDropped > 0, 'some messages were dropped');
    assert.equal(peer.msgsSent + peer.msgsDropped, sent);
    assert.equal(logs.codes().filter((code) => code === 'SKEIN_SEND_BUFFER_FULL').length, 1, 'logged once');
    await waitFor('c got every round', () => c.got.length === 40);
  } finally {
    stalled.close();
    await Promise.all([a.t.close(), c.t.close()]);
  }
});

test('TLS: transports with a shared self-signed certificate exchange messages', async (t) => {
  const made = selfSignedCert();
  if ('unavailable' in made) {
    t.skip(`${made.unavailable}; TLS not tested`);
    return;
  }
  const { key, cert } = made;
  const tls = { key, cert, ca: cert, requireClientCert: true };
  const bLogs = captureLogs();
  const a = await node('a', { tls });
  const b = await node('b', { tls, logger: bLogs.logger });
  const plainLogs = captureLogs();
  const plain = await node('p', { logger: plainLogs.logger });
  const untrustingLogs = captureLogs();
  const untrusting = await node('u', { tls: { key, cert }, logger: untrustingLogs.logger }); // no `ca`
  try {
    a.t.setPeerAddress('b', b.t.address);
    for (let i = 0; i < 10; i++) a.t.send('b', { i });
    await waitFor('TLS messages', () => b.got.length === 10);
    await waitFor('reply over TLS', () => {
      if (a.got.length === 0) b.t.send('a', 'reply');
      return a.got.length > 0;
    });
    // A plaintext node cannot talk to a TLS listener.
    plain.t.setPeerAddress('b', b.t.address);
    plain.t.send('b', 'plaintext');
    await waitFor('plaintext dialer fails', () =>
      plainLogs.lines.some((l) => l['peer'] === 'b' && l.level >= 30 && l.code !== undefined),
    );
    await waitFor('listener logs the TLS failure', () => bLogs.codes().includes('SKEIN_TLS_FAILED'));
    // A dialer that does not trust the listener's certificate refuses it.
    untrusting.t.setPeerAddress('b', b.t.address);
    untrusting.t.send('b', 'unverified');
    await waitFor('dialer rejects the certificate', () =>
      untrustingLogs.codes().includes('SKEIN_TLS_FAILED'),
    );
    assert.equal(b.got.filter((r) => r.from === 'u').length, 0);
    assert.equal(b.got.filter((r) => r.from === 'p').length, 0);
  } finally {
    await Promise.all([a.t.close(), b.t.close(), plain.t.close(), untrusting.t.close()]);
  }
});

test('throughput self-check: 256-byte messages are coalesced into few socket writes', async (t) => {
  const a = await node('a');
  const b = await node('b');
  try {
    a.t.setPeerAddress('b', b.t.address);
    a.t.send('b', 'warm-up');
    await waitFor('warm-up', () => b.got.length === 1);
    b.got.length = 0;
    let received = 0;
    let lastSeq = -1;
    b.t.setHandler((_from, message) => {
      const seq = (message as { seq: number }).seq;
      assert.equal(seq, lastSeq + 1);
      lastSeq = seq;
      received++;
    });
    const count = 50_000;
    const payload = Buffer.alloc(236, 1); // ~256 bytes encoded with the seq and map framing
    const start = performance.now();
    for (let seq = 0; seq < count; seq++) a.t.send('b', { seq, payload });
    await waitFor('all messages', () => received === count, 30_000);
    const seconds = (performance.now() - start) / 1000;
    const stats = a.t.stats().peers['b']!;
    const perWrite = stats.msgsSent / stats.socketWrites;
    t.diagnostic(
      `${count} msgs of ~256 B in ${seconds.toFixed(3)} s: ${Math.round(count / seconds)} msgs/s ` +
        `(same process, ${perWrite.toFixed(0)} msgs per socket write)`,
    );
    assert.ok(perWrite > 50, `coalescing: ${perWrite} msgs per write`);
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('removePeer closes both directions and later sends are dropped; setPeerAddress moves a link', async () => {
  const a = await node('a');
  const b = await node('b');
  const b2 = await node('b');
  try {
    a.t.setPeerAddress('b', b.t.address);
    a.t.send('b', 1);
    await waitFor('b hears a', () => b.got.length === 1);
    b.t.send('a', 'learned');
    await waitFor('a hears b', () => a.got.length === 1);
    // Move 'b' to another process listening elsewhere: the link re-dials there.
    a.t.setPeerAddress('b', b2.t.address);
    await waitFor('a reaches the new address', () => {
      a.t.send('b', 'moved');
      return b2.got.length > 0;
    });
    const dropped = a.t.stats().msgsDropped;
    const bLostA = new Promise((resolve) => b2.t.once('peerDisconnected', resolve));
    a.t.removePeer('b');
    await bLostA;
    a.t.send('b', 'gone');
    assert.equal(a.t.stats().msgsDropped, dropped + 1);
    assert.equal(a.t.stats().peers['b'], undefined);
  } finally {
    await Promise.all([a.t.close(), b.t.close(), b2.t.close()]);
  }
});

test('configuration mistakes fail fast with stable codes', async () => {
  await assert.rejects(createTcpTransport({ id: 'a', listen: LOCAL, clusterSecret: 'short' }), {
    code: 'SKEIN_INVALID_CONFIG',
  });
  await assert.rejects(
    createTcpTransport({ id: 'a', listen: LOCAL, clusterSecret: SECRET, maxFrameBytes: 0 }),
    {
      code: 'SKEIN_INVALID_CONFIG',
    },
  );
  await assert.rejects(createTcpTransport({ id: '', listen: LOCAL, clusterSecret: SECRET }), {
    code: 'SKEIN_INVALID_ARGUMENT',
  });
  await assert.rejects(
    createTcpTransport({ id: 'a', listen: LOCAL, clusterSecret: SECRET, advertise: 'nope' }),
    {
      code: 'SKEIN_INVALID_ARGUMENT',
    },
  );
  await assert.rejects(
    createTcpTransport({ id: 'a', listen: LOCAL, clusterSecret: SECRET, peers: { b: 'no-port' } }),
    { code: 'SKEIN_INVALID_ARGUMENT' },
  );
  const a = await node('a');
  const taken = Number(a.t.address.split(':')[1]);
  await assert.rejects(node('x', { listen: { host: '127.0.0.1', port: taken } }), {
    code: 'SKEIN_LISTEN_FAILED',
  });
  try {
    for (const bad of ['localhost', 'h:0', 'h:70000', '::1:80', '']) {
      assert.throws(
        () => {
          a.t.setPeerAddress('b', bad);
        },
        { code: 'SKEIN_INVALID_ARGUMENT' },
        bad,
      );
    }
    a.t.setPeerAddress('b', '[::1]:7000');
    assert.equal(a.t.stats().peers['b']!.address, '[::1]:7000');
  } finally {
    await a.t.close();
  }
});
