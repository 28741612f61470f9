import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { SkeinError } from '../core/errors.ts';
import type { ConnectionConfig } from './connection-config.ts';
import { TransportErrorCode } from './errors.ts';
import { type CloseReason, FramedSocket } from './framed-socket.ts';
import {
  type HandshakeMessage,
  MAX_HANDSHAKE_FRAME_BYTES,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  RejectReason,
  type Transcript,
  encodeHello,
  encodeProof,
  handshakeMac,
  macEquals,
  parseHandshake,
} from './handshake.ts';
import type { NodeId } from './types.ts';

export interface OutboundEvents {
  /** Both sides are authenticated; the socket is ready for data frames. */
  onOpen(connection: OutboundConnection): void;
  onClosed(connection: OutboundConnection, reason: CloseReason): void;
}

/**
 * The dialer's side of one connection to `peerId`: sends HELLO once the socket (and TLS, if any)
 * is up, answers the CHALLENGE with its proof, and opens only when the listener's ACCEPT proves
 * the listener knows the secret too. After that this side only writes; any byte the listener
 * sends is a protocol violation.
 */
export class OutboundConnection {
  readonly framed: FramedSocket;
  readonly peerId: NodeId;
  #phase: 'connecting' | 'challenge' | 'accept' | 'open' = 'connecting';
  readonly #nonce = randomBytes(NONCE_BYTES);
  #transcript: Transcript | undefined;
  readonly #config: ConnectionConfig;
  readonly #events: OutboundEvents;
  #closedByUs = false;

  /** `readyEvent` is 'connect' for TCP and 'secureConnect' for TLS. */
  constructor(
    socket: Socket,
    readyEvent: 'connect' | 'secureConnect',
    peerId: NodeId,
    config: ConnectionConfig,
    events: OutboundEvents,
  ) {
    this.peerId = peerId;
    this.#config = config;
    this.#events = events;
    this.framed = new FramedSocket(socket, MAX_HANDSHAKE_FRAME_BYTES, {
      onFrame: (payload) => {
        this.#onFrame(payload);
      },
      onClose: (reason) => {
        events.onClosed(this, reason ?? this.#closedEarlyReason());
      },
    });
    this.framed.setDeadline(
      config.handshakeTimeoutMs,
      () =>
        new SkeinError(
          TransportErrorCode.HandshakeTimeout,
          `connecting to "${peerId}" did not complete within ${config.handshakeTimeoutMs} ms`,
        ),
    );
    socket.once(readyEvent, () => {
      if (this.framed.closed) return;
      this.framed.writeFrame(encodeHello(this.#nonce, config.localId, config.advertisedAddress));
      this.#phase = 'challenge';
    });
  }

  get open(): boolean {
    return this.#phase === 'open' && !this.framed.closed;
  }

  /** True once the handshake completed, even after the connection closed. */
  get authenticated(): boolean {
    return this.#phase === 'open';
  }

  get socket(): Socket {
    return this.framed.socket;
  }

  close(reason: CloseReason): void {
    this.#closedByUs = true;
    this.framed.close(reason);
  }

  /** A peer that hangs up mid-handshake without a REJECT is worth a reason in the log. */
  #closedEarlyReason(): CloseReason {
    if (this.#closedByUs || this.#phase === 'open') return undefined;
    return new SkeinError(
      TransportErrorCode.ConnectFailed,
      `"${this.peerId}" closed the connection during the handshake ` +
        '(not a skein port? TLS on one side only? peer shutting down?)',
    );
  }

  #onFrame(payload: Buffer): void {
    if (this.#phase === 'open' || this.#phase === 'connecting') {
      throw new SkeinError(
        TransportErrorCode.BadFrame,
        `"${this.peerId}" sent data on a connection it should only read from`,
      );
    }
    const message = parseHandshake(payload);
    if (message.type === 'reject') throw rejected(this.peerId, message.reason, message.version);
    if (this.#phase === 'challenge') this.#onChallenge(message);
    else this.#onAccept(message);
  }

  #onChallenge(challenge: HandshakeMessage): void {
    if (challenge.type !== 'challenge') throw unexpected(challenge.type, 'CHALLENGE');
    if (challenge.nodeId !== this.peerId) {
      throw new SkeinError(
        TransportErrorCode.PeerIdMismatch,
        `dialed "${this.peerId}" but node "${challenge.nodeId}" answered; fix the peer's address`,
        { details: { expected: this.peerId, actual: challenge.nodeId } },
      );
    }
    this.#transcript = {
      dialerNonce: this.#nonce,
      listenerNonce: Buffer.from(challenge.nonce),
      dialerId: this.#config.localId,
      listenerId: this.peerId,
      dialerAddress: this.#config.advertisedAddress,
    };
    this.framed.writeFrame(encodeProof(handshakeMac(this.#config.secret, 'dialer', this.#transcript)));
    this.#phase = 'accept';
  }

  #onAccept(accept: HandshakeMessage): void {
    if (accept.type !== 'accept') throw unexpected(accept.type, 'ACCEPT');
    if (!macEquals(handshakeMac(this.#config.secret, 'listener', this.#transcript!), accept.mac)) {
      throw new SkeinError(
        TransportErrorCode.AuthFailed,
        `"${this.peerId}" failed authentication: its cluster secret differs from ours`,
      );
    }
    this.framed.clearDeadline();
    this.#phase = 'open';
    this.#events.onOpen(this);
  }
}

function rejected(peerId: NodeId, reason: number, theirVersion: number): SkeinError {
  if (reason === RejectReason.Auth) {
    return new SkeinError(
      TransportErrorCode.AuthFailed,
      `"${peerId}" refused our proof: the cluster secrets differ; give every node the same secret`,
    );
  }
  if (reason === RejectReason.Version) {
    return new SkeinError(
      TransportErrorCode.ProtocolVersion,
      `"${peerId}" speaks wire protocol version ${theirVersion}, we speak ${PROTOCOL_VERSION}; ` +
        'run the same skein release on every node',
    );
  }
  return new SkeinError(TransportErrorCode.HandshakeInvalid, `"${peerId}" rejected our handshake as invalid`);
}

function unexpected(got: string, wanted: string): SkeinError {
  return new SkeinError(
    TransportErrorCode.HandshakeInvalid,
    `invalid handshake: got ${got}, expected ${wanted}`,
  );
}
