/**
 * Test support for the TCP transport (not exported from skein/transport): capture pino output,
 * wait for conditions, and speak the handshake by hand over raw sockets, so tests can play a
 * peer that misbehaves on purpose.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { pino } from 'pino';
import type { Logger } from '../core/log.ts';
import { FRAME_HEADER_BYTES, FrameDecoder } from './frame-decoder.ts';
import {
  type HandshakeMessage,
  MAX_HANDSHAKE_FRAME_BYTES,
  NONCE_BYTES,
  type Transcript,
  encodeAccept,
  encodeChallenge,
  encodeHello,
  encodeProof,
  handshakeMac,
  parseHandshake,
} from './handshake.ts';

/** One parsed pino line. */
export interface LogLine {
  level: number;
  msg: string;
  code?: string;
  [key: string]: unknown;
}

/** A debug-level pino logger whose lines land in `lines`, parsed. */
export function captureLogs(): { logger: Logger; lines: LogLine[]; codes: () => string[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { logger, lines, codes: () => lines.flatMap((l) => (l.code === undefined ? [] : [l.code])) };
}

/** Poll `condition` every few ms; reject naming `what` if it is not true within `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Prefix `payload` with its u32 big-endian length. */
export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** A raw client socket that collects handshake frames sent to it and notes when it closes. */
export class RawPeer {
  readonly socket: net.Socket;
  readonly received: HandshakeMessage[] = [];
  closed = false;
  readonly #decoder = new FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES);

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#decoder.feed(chunk, (payload) => this.received.push(parseHandshake(payload)));
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => {
      // Resets are expected: the server hangs up on misbehaving clients.
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  async waitClosed(what = 'server to close the connection', timeoutMs = 5000): Promise<void> {
    await waitFor(what, () => this.closed, timeoutMs);
  }

  /** Run the dialer's side of the handshake; resolves with what the listener said last. */
  async handshake(options: { id: string; secret: Buffer | string; mac?: Buffer }): Promise<HandshakeMessage> {
    const nonce = randomBytes(NONCE_BYTES);
    const address = '127.0.0.1:1';
    this.write(frame(encodeHello(nonce, options.id, address)));
    await waitFor('CHALLENGE or close', () => this.received.length > 0 || this.closed);
    const challenge = this.received[0];
    if (challenge?.type !== 'challenge') return challenge ?? { type: 'reject', reason: 0, version: 0 };
    const transcript: Transcript = {
      dialerNonce: nonce,
      listenerNonce: challenge.nonce,
      dialerId: options.id,
      listenerId: challenge.nodeId,
      dialerAddress: address,
    };
    const mac = options.mac ?? handshakeMac(Buffer.from(options.secret), 'dialer', transcript);
    this.write(frame(encodeProof(mac)));
    await waitFor('ACCEPT or close', () => this.received.length > 1 || this.closed);
    return this.received[1] ?? { type: 'reject', reason: 0, version: 0 };
  }
}

/**
 * A listener that completes the handshake as `id` and then never reads again: a peer whose
 * process is frozen (GC pause, SIGSTOP) or whose network path has stalled.
 */
export async function stalledListener(
  id: string,
  secret: Buffer | string,
): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const decoder = new FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES);
    const nonce = randomBytes(NONCE_BYTES);
    let hello: HandshakeMessage | undefined;
    socket.on('data', (chunk: Buffer) => {
      decoder.feed(chunk, (payload) => {
        const message = parseHandshake(payload);
        if (message.type === 'hello') {
          hello = message;
          socket.write(frame(encodeChallenge(nonce, id)));
        } else if (message.type === 'proof' && hello?.type === 'hello') {
          const transcript: Transcript = {
            dialerNonce: hello.nonce,
            listenerNonce: nonce,
            dialerId: hello.nodeId,
            listenerId: id,
            dialerAddress: hello.address,
          };
          socket.write(frame(encodeAccept(handshakeMac(Buffer.from(secret), 'listener', transcript))));
          decoder.stop();
          socket.pause();
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
