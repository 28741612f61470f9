import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { decode } from '../core/codec.ts';
import { SkeinError } from '../core/errors.ts';
import type { ConnectionConfig } from './connection-config.ts';
import { TransportErrorCode } from './errors.ts';
import { type CloseReason, FramedSocket } from './framed-socket.ts';
import {
  MAX_HANDSHAKE_FRAME_BYTES,
  NONCE_BYTES,
  RejectReason,
  type Transcript,
  encodeAccept,
  encodeChallenge,
  encodeReject,
  handshakeMac,
  macEquals,
  parseHandshake,
} from './handshake.ts';
import type { NodeId } from './types.ts';

export interface InboundEvents {
  /** The dialer proved it knows the cluster secret; its messages will now be delivered. */
  onAuthenticated(connection: InboundConnection): void;
  /** One message from an authenticated peer. */
  onMessage(from: NodeId, message: unknown, frameBytes: number): void;
  onClosed(connection: InboundConnection, reason: CloseReason): void;
}

/**
 * The listener's side of one accepted connection: runs the handshake, then decodes frames and
 * hands them up. It never writes after ACCEPT — this node sends to the peer on its own outbound
 * connection — and nothing reaches `onMessage` before the dialer's proof has been verified.
 */
export class InboundConnection {
  readonly framed: FramedSocket;
  #phase: 'hello' | 'proof' | 'open' = 'hello';
  #peerId: NodeId | undefined;
  #peerAddress: string | undefined;
  #transcript: Transcript | undefined;
  readonly #config: ConnectionConfig;
  readonly #events: InboundEvents;

  constructor(socket: Socket, config: ConnectionConfig, events: InboundEvents) {
    this.#config = config;
    this.#events = events;
    this.framed = new FramedSocket(socket, MAX_HANDSHAKE_FRAME_BYTES, {
      onFrame: (payload) => {
        this.#onFrame(payload);
      },
      onClose: (reason) => {
        events.onClosed(this, reason);
      },
    });
    this.framed.setDeadline(
      config.handshakeTimeoutMs,
      () =>
        new SkeinError(
          TransportErrorCode.HandshakeTimeout,
          `inbound connection did not complete the handshake within ${config.handshakeTimeoutMs} ms`,
        ),
    );
  }

  /** The authenticated peer's id (undefined until the handshake completes). */
  get peerId(): NodeId | undefined {
    return this.#phase === 'open' ? this.#peerId : undefined;
  }

  /** The address the peer advertised in its HELLO (undefined until authenticated). */
  get peerAddress(): string | undefined {
    return this.#phase === 'open' ? this.#peerAddress : undefined;
  }

  /** The id the dialer claimed in HELLO, authenticated or not (for log lines only). */
  get claimedId(): NodeId | undefined {
    return this.#peerId;
  }

  get authenticated(): boolean {
    return this.#phase === 'open';
  }

  close(reason: CloseReason): void {
    this.framed.close(reason);
  }

  #onFrame(payload: Buffer): void {
    if (this.#phase === 'open') {
      // decode() raises SKEIN_DECODE_FAILED, which closes the connection: a peer that sends
      // garbage once cannot be trusted to be in sync with our framing any more.
      const message = decode(payload);
      this.#events.onMessage(this.#peerId!, message, payload.length);
      return;
    }
    try {
      if (this.#phase === 'hello') this.#onHello(payload);
      else this.#onProof(payload);
    } catch (error) {
      if (!(error instanceof SkeinError)) throw error;
      // Tell a real skein peer why (it logs the reason instead of guessing), then hang up.
      this.framed.close(error, encodeReject(rejectReasonFor(error)));
    }
  }

  #onHello(payload: Buffer): void {
    const hello = parseHandshake(payload);
    if (hello.type !== 'hello') throw unexpected(hello.type, 'HELLO');
    if (hello.nodeId === this.#config.localId) throw unexpected('own node id', 'a peer id');
    const listenerNonce = randomBytes(NONCE_BYTES);
    this.#peerId = hello.nodeId;
    this.#peerAddress = hello.address;
    this.#transcript = {
      dialerNonce: Buffer.from(hello.nonce),
      listenerNonce,
      dialerId: hello.nodeId,
      listenerId: this.#config.localId,
      dialerAddress: hello.address,
    };
    this.framed.writeFrame(encodeChallenge(listenerNonce, this.#config.localId));
    this.#phase = 'proof';
  }

  #onProof(payload: Buffer): void {
    const proof = parseHandshake(payload);
    if (proof.type !== 'proof') throw unexpected(proof.type, 'PROOF');
    const transcript = this.#transcript!;
    if (!macEquals(handshakeMac(this.#config.secret, 'dialer', transcript), proof.mac)) {
      throw new SkeinError(
        TransportErrorCode.AuthFailed,
        `node "${transcript.dialerId}" failed authentication: its cluster secret differs from ours`,
      );
    }
    this.framed.writeFrame(encodeAccept(handshakeMac(this.#config.secret, 'listener', transcript)));
    this.framed.clearDeadline();
    this.framed.decoder.maxFrameBytes = this.#config.maxFrameBytes;
    this.#phase = 'open';
    this.#events.onAuthenticated(this);
  }
}

function rejectReasonFor(error: SkeinError): RejectReason {
  if (error.code === TransportErrorCode.ProtocolVersion) return RejectReason.Version;
  if (error.code === TransportErrorCode.AuthFailed) return RejectReason.Auth;
  return RejectReason.Invalid;
}

function unexpected(got: string, wanted: string): SkeinError {
  return new SkeinError(
    TransportErrorCode.HandshakeInvalid,
    `invalid handshake: got ${got}, expected ${wanted}`,
  );
}
