import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createTcpTransport, type TcpTransport } from '../src/transport/index.ts';
import * as net from 'node:net';
import {
  encodeAccept,
  encodeChallenge,
  encodeHello,
  HandshakeType,
  PROTOCOL_VERSION,
  RejectReason,
} from '../src/transport/handshake.ts';
import { captureLogs, frame, RawPeer, waitFor } from '../src/transport/test-kit.ts';

// One target transport faces every hostile input below, while a legitimate peer keeps talking to
// it. After each attack we check that the target is still up and serving that peer, and that no
// message from anyone but an authenticated peer ever reached the handler.

const SECRET = 'fuzz-cluster-secret-0123456789abcdef';
const MAX_FRAME_BYTES = 64 * 1024;
const HANDSHAKE_TIMEOUT_MS = 300;

const logs = captureLogs();
let target: TcpTransport;
let legit: TcpTransport;
let port: number;
const delivered: { from: string; message: unknown }[] = [];
const legitGot: unknown[] = [];
let pings = 0;

before(async () => {
  target = await createTcpTransport({
    id: 'target',
    listen: { host: '127.0.0.1', port: 0 },
    clusterSecret: SECRET,
    maxFrameBytes: MAX_FRAME_BYTES,
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    learnPeerAddresses: false,
    logger: logs.logger,
  });
  target.setHandler((from, message) => delivered.push({ from, message }));
  port = Number(target.address.split(':')[1]);
  legit = await createTcpTransport({
    id: 'legit',
    listen: { host: '127.0.0.1', port: 0 },
    clusterSecret: SECRET,
  });
  legit.setHandler((_from, message) => legitGot.push(message));
  legit.setPeerAddress('target', target.address);
  target.setPeerAddress('legit', legit.address);
});

after(async () => {
  await Promise.all([target.close(), legit.close()]);
});

/** The target still serves the legitimate peer in both directions. */
async function assertStillServing(): Promise<void> {
  const k = ++pings;
  legit.send('target', { ping: k });
  await waitFor(`ping ${k} delivered`, () =>
    delivered.some((d) => d.from === 'legit' && isPing(d.message, k)),
  );
  target.send('legit', { pong: k });
  await waitFor(`pong ${k} delivered`, () => legitGot.some((m) => (m as { pong?: number }).pong === k));
}

function isPing(message: unknown, k: number): boolean {
  return (message as { ping?: number } | null)?.ping === k;
}

/** Only the legitimate peer (and, where a test authenticates on purpose, `allowed`) ever got through. */
function assertOnlyAuthenticatedDelivered(allowed: string[] = []): void {
  const strangers = delivered.filter((d) => d.from !== 'legit' && !allowed.includes(d.from));
  assert.deepEqual(strangers, []);
}

/** Count of log lines with `code` so far. */
function logged(code: string): number {
  return logs.codes().filter((c) => c === code).length;
}

test('random bytes from an unauthenticated socket are never delivered and never take the target down', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), async (bytes, hangUp) => {
      const raw = await RawPeer.connect(port);
      raw.write(bytes);
      if (hangUp) raw.socket.end();
      await raw.waitClosed('target to close the connection', HANDSHAKE_TIMEOUT_MS * 10);
    }),
    { numRuns: 40 },
  );
  assertOnlyAuthenticatedDelivered();
  await assertStillServing();
});

test('truncated handshake frames are cut off by the handshake timeout', async () => {
  const hello = frame(encodeHello(Buffer.alloc(32, 1), 'mallory', '127.0.0.1:1'));
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: hello.length - 1 }), async (cut) => {
      const raw = await RawPeer.connect(port);
      raw.write(hello.subarray(0, cut));
      await raw.waitClosed('handshake timeout', HANDSHAKE_TIMEOUT_MS * 10);
    }),
    { numRuns: 8 },
  );
  assert.ok(logged('SKEIN_HANDSHAKE_TIMEOUT') >= 8);
  assertOnlyAuthenticatedDelivered();
  await assertStillServing();
});

test('oversized length prefixes before authentication close the connection at once', async () => {
  const before = logged('SKEIN_FRAME_TOO_LARGE');
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1025, max: 0xffff_ffff }), async (length) => {
      const raw = await RawPeer.connect(port);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(length);
      raw.write(header);
      // No hang-up from our side; the log count below shows the target closed it for the frame, not a timeout.
      await raw.waitClosed('target to refuse the frame');
    }),
    { numRuns: 20 },
  );
  assert.equal(logged('SKEIN_FRAME_TOO_LARGE') - before, 20);
  await assertStillServing();
});

test('slowloris: a handshake trickled byte by byte is closed after handshakeTimeoutMs', async () => {
  const hello = frame(encodeHello(Buffer.alloc(32, 2), 'slow', '127.0.0.1:1'));
  const raw = await RawPeer.connect(port);
  const startMs = performance.now();
  for (let i = 0; i < hello.length - 1 && !raw.closed; i++) {
    raw.write(hello.subarray(i, i + 1));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await raw.waitClosed();
  const elapsedMs = performance.now() - startMs;
  assert.ok(elapsedMs >= HANDSHAKE_TIMEOUT_MS - 20, `closed after ${elapsedMs} ms`);
  const line = logs.lines.findLast((l) => l.code === 'SKEIN_HANDSHAKE_TIMEOUT');
  assert.ok(line !== undefined && line.level === 40);
  await assertStillServing();
});

test('a wrong MAC is refused with REJECT(auth); data pipelined after it is never delivered', async () => {
  const raw = await RawPeer.connect(port);
  const pipelined = frame(Buffer.from([0x81, 0xa1, 0x78, 0x01])); // msgpack {x: 1}
  const reply = await raw.handshake({ id: 'mallory', secret: SECRET, mac: Buffer.alloc(32, 0xee) });
  raw.write(pipelined);
  assert.deepEqual(reply, { type: 'reject', reason: RejectReason.Auth, version: PROTOCOL_VERSION });
  await raw.waitClosed();
  const line = logs.lines.findLast((l) => l.code === 'SKEIN_AUTH_FAILED')!;
  assert.equal(line['peer'], 'mallory');
  assertOnlyAuthenticatedDelivered();
  await assertStillServing();
});

test('a HELLO with another protocol version gets REJECT(version) and SKEIN_PROTOCOL_VERSION', async () => {
  const raw = await RawPeer.connect(port);
  const hello = encodeHello(Buffer.alloc(32, 3), 'future', '127.0.0.1:1');
  hello[4] = PROTOCOL_VERSION + 1;
  raw.write(frame(hello));
  await raw.waitClosed();
  assert.deepEqual(raw.received, [
    { type: 'reject', reason: RejectReason.Version, version: PROTOCOL_VERSION },
  ]);
  assert.ok(logged('SKEIN_PROTOCOL_VERSION') >= 1);
  // A message type that does not exist is refused as an invalid handshake.
  const other = await RawPeer.connect(port);
  other.write(frame(Buffer.from([HandshakeType.Accept + 100])));
  await other.waitClosed();
  assert.ok(logged('SKEIN_HANDSHAKE_INVALID') >= 1);
  await assertStillServing();
});

test('after a valid handshake, bad frames close only that connection with a stable code', async () => {
  const cases: { name: string; bytes: Buffer; code: string }[] = [
    {
      name: 'frame over maxFrameBytes',
      bytes: lengthOnly(MAX_FRAME_BYTES + 1),
      code: 'SKEIN_FRAME_TOO_LARGE',
    },
    { name: 'undecodable msgpack', bytes: frame(Buffer.from([0x92, 0x01])), code: 'SKEIN_DECODE_FAILED' },
    { name: 'zero length', bytes: lengthOnly(0), code: 'SKEIN_BAD_FRAME' },
  ];
  for (const { name, bytes, code } of cases) {
    const before = logged(code);
    const raw = await RawPeer.connect(port);
    const reply = await raw.handshake({ id: 'insider', secret: SECRET });
    assert.equal(reply.type, 'accept', name);
    raw.write(frame(Buffer.from([0xa2, 0x6f, 0x6b]))); // "ok": delivered, the peer is authenticated
    raw.write(bytes);
    await raw.waitClosed(`target to close after ${name}`);
    assert.equal(logged(code), before + 1, name);
  }
  assert.deepEqual(
    delivered.filter((d) => d.from === 'insider').map((d) => d.message),
    ['ok', 'ok', 'ok'],
  );
  await assertStillServing();
});

test('random frames after a valid handshake never take the target down', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 10 }),
      async (payloads) => {
        const raw = await RawPeer.connect(port);
        await raw.handshake({ id: 'insider', secret: SECRET });
        for (const p of payloads) raw.write(frame(p));
        raw.socket.end();
        await raw.waitClosed();
      },
    ),
    { numRuns: 25 },
  );
  assertOnlyAuthenticatedDelivered(['insider']);
  await assertStillServing();
});

test('connections beyond maxPendingHandshakes are closed at once', async () => {
  const small = await createTcpTransport({
    id: 'small',
    listen: { host: '127.0.0.1', port: 0 },
    clusterSecret: SECRET,
    maxPendingHandshakes: 3,
    logger: logs.logger,
  });
  try {
    const smallPort = Number(small.address.split(':')[1]);
    const idle = await Promise.all([1, 2, 3].map(() => RawPeer.connect(smallPort)));
    await waitFor('three pending handshakes', () => small.stats().pendingHandshakes === 3);
    const extra = await RawPeer.connect(smallPort);
    await extra.waitClosed('the fourth connection to be refused', 1000);
    assert.ok(logged('SKEIN_TOO_MANY_HANDSHAKES') >= 1);
    for (const raw of idle) raw.socket.destroy();
  } finally {
    await small.close();
  }
});

function lengthOnly(length: number): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(length);
  return header;
}

test('a hostile listener cannot crash the dialer or get it to open a connection', async () => {
  const dialerLogs = captureLogs();
  const dialer = await createTcpTransport({
    id: 'dialer',
    listen: { host: '127.0.0.1', port: 0 },
    clusterSecret: SECRET,
    reconnectMinMs: 2,
    reconnectMaxMs: 10,
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    logger: dialerLogs.logger,
  });
  const responses: Buffer[] = [];
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.on('error', () => undefined);
    // Answer the HELLO with whatever the property chose, then hang up.
    socket.once('data', () => {
      socket.end(responses.shift() ?? Buffer.alloc(0));
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  let opened = false;
  dialer.on('peerConnected', () => (opened = true));
  try {
    dialer.setPeerAddress('evil', `127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    dialer.send('evil', 'first message, which starts the dialing');
    const challenge = frame(encodeChallenge(Buffer.alloc(32, 4), 'evil'));
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
      // A well-formed CHALLENGE from the right id, then an ACCEPT with a made-up MAC or garbage.
      fc
        .uint8Array({ minLength: 32, maxLength: 32 })
        .map((mac) => Buffer.concat([challenge, frame(encodeAccept(Buffer.from(mac)))])),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([challenge, Buffer.from(b)])),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (response) => {
        const before = accepted;
        responses.push(response);
        await waitFor('the dialer to reconnect and consume the response', () => accepted > before + 1);
      }),
      { numRuns: 30 },
    );
    assert.equal(opened, false);
    assert.equal(dialer.stats().peers['evil']!.connected, false);
    assert.ok(dialerLogs.codes().includes('SKEIN_AUTH_FAILED'), 'a forged ACCEPT is caught');
    // The dialer still works with a real peer.
    dialer.setPeerAddress('legit', legit.address);
    dialer.send('legit', 'still alive');
    await waitFor('legit hears the dialer', () => legitGot.includes('still alive'));
  } finally {
    server.close();
    await dialer.close();
  }
});
