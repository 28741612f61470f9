import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { SkeinError } from '../core/errors.ts';
import { FRAME_HEADER_BYTES, FrameDecoder } from './frame-decoder.ts';
import { TransportErrorCode } from './errors.ts';

/** Why a connection ended: undefined for an orderly close, else the error that closed it. */
export type CloseReason = SkeinError | undefined;

export interface FramedSocketHandlers {
  /** One complete frame. Throwing closes the connection with that error. */
  onFrame(payload: Buffer): void;
  /** Called exactly once, after the socket is destroyed. */
  onClose(reason: CloseReason): void;
}

/**
 * A socket carrying length-prefixed frames, closed exactly once. Every way a connection can fail
 * (a bad frame, a throwing frame handler, a socket error, a timeout) funnels into `close(reason)`,
 * so the layers above see one event with one reason and never an unhandled 'error'.
 */
export class FramedSocket {
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  readonly #handlers: FramedSocketHandlers;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(socket: Socket, maxFrameBytes: number, handlers: FramedSocketHandlers) {
    this.socket = socket;
    this.decoder = new FrameDecoder(maxFrameBytes);
    this.#handlers = handlers;
    const onFrame = (payload: Buffer): void => {
      handlers.onFrame(payload);
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.feed(chunk, onFrame);
      } catch (error) {
        this.close(toSkeinError(error));
      }
    });
    socket.on('error', (error) => {
      this.close(socketError(socket, error));
    });
    socket.on('close', () => {
      this.close(undefined);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** `host:port` of the other end, for log lines. */
  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  /** Close with `error` unless `clearDeadline` is called within `ms`. */
  setDeadline(ms: number, error: () => SkeinError): void {
    this.clearDeadline();
    this.#timer = setTimeout(() => {
      this.close(error());
    }, ms);
  }

  clearDeadline(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Write one frame now (handshake messages: small and rare, so no coalescing). */
  writeFrame(payload: Buffer): void {
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
    frame.writeUInt32BE(payload.length, 0);
    payload.copy(frame, FRAME_HEADER_BYTES);
    this.socket.write(frame);
  }

  /**
   * Close the connection. With `farewell`, that frame is sent first and the socket half-closed so
   * the peer can read it; the socket is destroyed when the peer closes or after `lingerMs`.
   */
  close(reason: CloseReason, farewell?: Buffer, lingerMs = 1000): void {
    if (this.#closed) return;
    this.#closed = true;
    this.clearDeadline();
    this.decoder.stop();
    if (farewell !== undefined && !this.socket.destroyed) {
      this.writeFrame(farewell);
      this.socket.end();
      setTimeout(() => this.socket.destroy(), lingerMs).unref();
    } else {
      this.socket.destroy();
    }
    this.#handlers.onClose(reason);
  }
}

/** Anything thrown while handling a frame becomes a SkeinError; non-Skein errors are bugs, kept as cause. */
function toSkeinError(error: unknown): SkeinError {
  if (error instanceof SkeinError) return error;
  return new SkeinError('SKEIN_INTERNAL', `unexpected error while reading a frame: ${String(error)}`, {
    cause: error,
  });
}

/**
 * System errors (ECONNREFUSED, ECONNRESET, ...) are ordinary network trouble; any other error on a
 * TLS socket (certificate rejected, protocol mismatch) is a TLS configuration problem worth a warning.
 */
function socketError(socket: Socket, error: Error & { code?: string }): SkeinError {
  const systemError = typeof error.code === 'string' && /^E[A-Z]+$/.test(error.code);
  if (socket instanceof TLSSocket && !systemError) {
    return new SkeinError(TransportErrorCode.TlsFailed, `TLS failed: ${error.message}`, { cause: error });
  }
  return new SkeinError(TransportErrorCode.ConnectFailed, `socket error: ${error.message}`, { cause: error });
}
