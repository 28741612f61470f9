import { createHmac, timingSafeEqual } from 'node:crypto';
import { SkeinError } from '../core/errors.ts';
import { TransportErrorCode } from './errors.ts';

/**
 * The connection handshake: pure encoding, parsing and MAC computation, no sockets. The byte
 * layout is specified in docs/transport.md; keep the two in step.
 *
 * Dialer → listener: HELLO(version, dialer nonce, dialer id, dialer address)
 * Listener → dialer: CHALLENGE(version, listener nonce, listener id)
 * Dialer → listener: PROOF(HMAC(secret, "skein/1 dialer" ‖ transcript))
 * Listener → dialer: ACCEPT(HMAC(secret, "skein/1 listener" ‖ transcript)) or REJECT(reason)
 *
 * The transcript holds both nonces, both ids and the dialer's address, so a proof is bound to one
 * connection (fresh nonce from each side: no replay), to one pair of nodes, and to one direction
 * (distinct labels: a dialer's proof can never be reflected back as a listener's). The listener
 * produces a MAC only after the dialer has proven itself, so a stranger gets no MAC oracle.
 */
export const PROTOCOL_VERSION = 1;
/** "SKN": lets a listener tell a skein dialer from stray traffic at the first frame. */
export const HANDSHAKE_MAGIC = Buffer.from([0x53, 0x4b, 0x4e]);
export const NONCE_BYTES = 32;
export const MAC_BYTES = 32;
/** Frame limit before authentication: an unauthenticated peer can make us buffer no more. */
export const MAX_HANDSHAKE_FRAME_BYTES = 1024;
/** Ids and addresses travel with a u8 length prefix. */
export const MAX_NAME_BYTES = 255;

export const HandshakeType = { Hello: 1, Challenge: 2, Proof: 3, Accept: 4, Reject: 5 } as const;
export const RejectReason = { Version: 1, Auth: 2, Invalid: 3 } as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

export type HandshakeMessage =
  | { type: 'hello'; version: number; nonce: Buffer; nodeId: string; address: string }
  | { type: 'challenge'; version: number; nonce: Buffer; nodeId: string }
  | { type: 'proof'; mac: Buffer }
  | { type: 'accept'; mac: Buffer }
  | { type: 'reject'; reason: number; version: number };

/** Everything both MACs cover. */
export interface Transcript {
  readonly dialerNonce: Buffer;
  readonly listenerNonce: Buffer;
  readonly dialerId: string;
  readonly listenerId: string;
  readonly dialerAddress: string;
}

export function encodeHello(nonce: Buffer, nodeId: string, address: string): Buffer {
  return Buffer.concat([
    Buffer.from([HandshakeType.Hello]),
    HANDSHAKE_MAGIC,
    Buffer.from([PROTOCOL_VERSION]),
    nonce,
    name8(nodeId),
    name8(address),
  ]);
}

export function encodeChallenge(nonce: Buffer, nodeId: string): Buffer {
  return Buffer.concat([Buffer.from([HandshakeType.Challenge, PROTOCOL_VERSION]), nonce, name8(nodeId)]);
}

export function encodeProof(mac: Buffer): Buffer {
  return Buffer.concat([Buffer.from([HandshakeType.Proof]), mac]);
}

export function encodeAccept(mac: Buffer): Buffer {
  return Buffer.concat([Buffer.from([HandshakeType.Accept]), mac]);
}

export function encodeReject(reason: RejectReason): Buffer {
  return Buffer.from([HandshakeType.Reject, reason, PROTOCOL_VERSION]);
}

/**
 * Parse one handshake frame payload. Throws SKEIN_PROTOCOL_VERSION for a HELLO or CHALLENGE of
 * another version (checked before anything version-specific is read) and SKEIN_HANDSHAKE_INVALID
 * for anything malformed, including trailing bytes.
 */
export function parseHandshake(payload: Buffer): HandshakeMessage {
  const r = new Reader(payload);
  const type = r.u8();
  let message: HandshakeMessage;
  switch (type) {
    case HandshakeType.Hello: {
      if (!r.bytes(HANDSHAKE_MAGIC.length).equals(HANDSHAKE_MAGIC)) throw invalid('bad magic');
      const version = checkVersion(r.u8());
      message = {
        type: 'hello',
        version,
        nonce: r.bytes(NONCE_BYTES),
        nodeId: r.name8(),
        address: r.name8(),
      };
      break;
    }
    case HandshakeType.Challenge: {
      const version = checkVersion(r.u8());
      message = { type: 'challenge', version, nonce: r.bytes(NONCE_BYTES), nodeId: r.name8() };
      break;
    }
    case HandshakeType.Proof:
      message = { type: 'proof', mac: r.bytes(MAC_BYTES) };
      break;
    case HandshakeType.Accept:
      message = { type: 'accept', mac: r.bytes(MAC_BYTES) };
      break;
    case HandshakeType.Reject:
      message = { type: 'reject', reason: r.u8(), version: r.u8() };
      break;
    default:
      throw invalid(`unknown handshake message type ${type}`);
  }
  r.end();
  return message;
}

/** The MAC one side sends to prove it knows `secret`. */
export function handshakeMac(secret: Buffer, role: 'dialer' | 'listener', t: Transcript): Buffer {
  return createHmac('sha256', secret)
    .update(`skein/${PROTOCOL_VERSION} ${role}`)
    .update(Buffer.from([0, PROTOCOL_VERSION]))
    .update(t.dialerNonce)
    .update(t.listenerNonce)
    .update(name8(t.dialerId))
    .update(name8(t.listenerId))
    .update(name8(t.dialerAddress))
    .digest();
}

/** Constant-time comparison, so response timing reveals nothing about the expected MAC. */
export function macEquals(expected: Buffer, received: Buffer): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/** Throws SKEIN_INVALID_ARGUMENT unless `name` fits the u8 length prefix. */
export function assertName(name: string, what: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > MAX_NAME_BYTES) {
    throw new SkeinError(
      TransportErrorCode.InvalidArgument,
      `${what} must be 1..${MAX_NAME_BYTES} bytes of UTF-8, got ${bytes} bytes`,
    );
  }
}

function name8(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

function checkVersion(version: number): number {
  if (version !== PROTOCOL_VERSION) {
    throw new SkeinError(
      TransportErrorCode.ProtocolVersion,
      `peer speaks wire protocol version ${version}, this node speaks ${PROTOCOL_VERSION}; ` +
        'run the same skein release on every node',
      { details: { peerVersion: version, localVersion: PROTOCOL_VERSION } },
    );
  }
  return version;
}

function invalid(what: string): SkeinError {
  return new SkeinError(TransportErrorCode.HandshakeInvalid, `invalid handshake: ${what}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A bounds-checked cursor; every overrun is a SKEIN_HANDSHAKE_INVALID, never a RangeError. */
class Reader {
  readonly #bytes: Buffer;
  #at = 0;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  u8(): number {
    return this.bytes(1)[0]!;
  }

  bytes(n: number): Buffer {
    if (this.#at + n > this.#bytes.length) throw invalid('message is truncated');
    const out = this.#bytes.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }

  name8(): string {
    const raw = this.bytes(this.u8());
    if (raw.length === 0) throw invalid('empty name');
    try {
      return utf8.decode(raw);
    } catch {
      throw invalid('name is not UTF-8');
    }
  }

  end(): void {
    if (this.#at !== this.#bytes.length) throw invalid('trailing bytes');
  }
}
