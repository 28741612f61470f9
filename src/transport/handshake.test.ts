import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SkeinError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { reconnectDelayMs } from './backoff.ts';
import { TransportErrorCode } from './errors.ts';
import {
  PROTOCOL_VERSION,
  RejectReason,
  type Transcript,
  encodeAccept,
  encodeChallenge,
  encodeHello,
  encodeProof,
  encodeReject,
  handshakeMac,
  macEquals,
  parseHandshake,
} from './handshake.ts';

const nonce = (fill: number): Buffer => Buffer.alloc(32, fill);
const secret = Buffer.from('a cluster secret of enough bytes');
const transcript: Transcript = {
  dialerNonce: nonce(1),
  listenerNonce: nonce(2),
  dialerId: 'n1',
  listenerId: 'n2',
  dialerAddress: '127.0.0.1:7000',
};

test('handshake messages round-trip through parseHandshake', () => {
  assert.deepEqual(parseHandshake(encodeHello(nonce(9), 'nœud-1', '[::1]:7000')), {
    type: 'hello',
    version: PROTOCOL_VERSION,
    nonce: nonce(9),
    nodeId: 'nœud-1',
    address: '[::1]:7000',
  });
  assert.deepEqual(parseHandshake(encodeChallenge(nonce(3), 'n2')), {
    type: 'challenge',
    version: PROTOCOL_VERSION,
    nonce: nonce(3),
    nodeId: 'n2',
  });
  assert.deepEqual(parseHandshake(encodeProof(nonce(4))), { type: 'proof', mac: nonce(4) });
  assert.deepEqual(parseHandshake(encodeAccept(nonce(5))), { type: 'accept', mac: nonce(5) });
  assert.deepEqual(parseHandshake(encodeReject(RejectReason.Auth)), {
    type: 'reject',
    reason: RejectReason.Auth,
    version: PROTOCOL_VERSION,
  });
});

test('every truncation or extension of a handshake message is SKEIN_HANDSHAKE_INVALID', () => {
  for (const message of [
    encodeHello(nonce(1), 'n1', 'h:1'),
    encodeChallenge(nonce(1), 'n1'),
    encodeProof(nonce(1)),
  ]) {
    for (let cut = 0; cut < message.length; cut++) {
      assert.throws(
        () => parseHandshake(message.subarray(0, cut)),
        (e) => e instanceof SkeinError && e.code === TransportErrorCode.HandshakeInvalid,
      );
    }
    assert.throws(
      () => parseHandshake(Buffer.concat([message, Buffer.from([0])])),
      (e) => e instanceof SkeinError && e.code === TransportErrorCode.HandshakeInvalid,
    );
  }
});

test('arbitrary bytes never make parseHandshake throw anything but a SkeinError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
      try {
        parseHandshake(Buffer.from(bytes));
      } catch (e) {
        assert.ok(e instanceof SkeinError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('a HELLO of another version is SKEIN_PROTOCOL_VERSION, whatever follows the version byte', () => {
  const hello = encodeHello(nonce(1), 'n1', 'h:1');
  hello[4] = PROTOCOL_VERSION + 1;
  assert.throws(
    () => parseHandshake(hello.subarray(0, 5)),
    (e) => e instanceof SkeinError && e.code === TransportErrorCode.ProtocolVersion,
  );
});

test('the MAC binds the secret, both nonces, both ids, the address and the role', () => {
  const mac = handshakeMac(secret, 'dialer', transcript);
  assert.ok(macEquals(mac, handshakeMac(Buffer.from(secret), 'dialer', { ...transcript })));
  const variants: Buffer[] = [
    handshakeMac(secret, 'listener', transcript),
    handshakeMac(Buffer.from('another secret of enough bytes!!'), 'dialer', transcript),
    handshakeMac(secret, 'dialer', { ...transcript, dialerNonce: nonce(7) }),
    handshakeMac(secret, 'dialer', { ...transcript, listenerNonce: nonce(7) }),
    handshakeMac(secret, 'dialer', { ...transcript, dialerId: 'n3' }),
    handshakeMac(secret, 'dialer', { ...transcript, listenerId: 'n3' }),
    handshakeMac(secret, 'dialer', { ...transcript, dialerAddress: '10.0.0.1:7000' }),
    // Swapping ids (a reflected connection) must not produce the same MAC.
    handshakeMac(secret, 'dialer', { ...transcript, dialerId: 'n2', listenerId: 'n1' }),
  ];
  for (const other of variants) assert.equal(macEquals(mac, other), false);
  assert.equal(macEquals(mac, mac.subarray(0, 31)), false);
});

test('reconnect backoff grows exponentially with jitter and stays within [min/2, max]', () => {
  fc.assert(
    fc.property(fc.integer(), fc.nat(64), (seed, attempt) => {
      const delay = reconnectDelayMs(attempt, 100, 5000, new Random(seed));
      const ceiling = Math.min(5000, 100 * 2 ** attempt);
      assert.ok(delay >= ceiling / 2 && delay <= ceiling, `${delay} for attempt ${attempt}`);
    }),
  );
  const random = new Random(1);
  const delays = new Set(Array.from({ length: 20 }, () => reconnectDelayMs(10, 100, 5000, random)));
  assert.ok(delays.size > 10, 'jitter spreads retries');
});
