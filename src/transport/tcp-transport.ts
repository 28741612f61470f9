import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { decode, encode } from '../core/codec.ts';
import { CoreErrorCode, SkeinError, assert } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/log.ts';
import { Random } from '../core/random.ts';
import { type HostPort, formatAddress, isUnspecifiedHost, parseAddress } from './address.ts';
import type { ConnectionConfig } from './connection-config.ts';
import { TransportErrorCode } from './errors.ts';
import type { CloseReason } from './framed-socket.ts';
import { InboundConnection } from './inbound-connection.ts';
import { PeerLink } from './peer-link.ts';
import { type ResolvedTcpOptions, type TcpTransportOptions, resolveTcpOptions } from './tcp-options.ts';
import { createListener, dial, remoteOf, tuneSocket } from './sockets.ts';
import type { MessageHandler, NodeId, Transport } from './types.ts';
import type {
  RejectionInfo,
  ConnectionDirection,
  TcpPeerStats,
  TcpTransportEvents,
  TcpTransportStats,
} from './tcp-events.ts';

/** Codes that mean the other side misbehaved or is misconfigured (logged at warn), not a plain network failure. */
const PROTOCOL_CODES: ReadonlySet<string> = new Set([
  TransportErrorCode.AuthFailed,
  TransportErrorCode.ProtocolVersion,
  TransportErrorCode.FrameTooLarge,
  TransportErrorCode.BadFrame,
  TransportErrorCode.HandshakeInvalid,
  TransportErrorCode.HandshakeTimeout,
  TransportErrorCode.PeerIdMismatch,
  TransportErrorCode.DecodeFailed,
]);

/** At most one SKEIN_SEND_BUFFER_FULL line per peer per this interval. */
const OVERFLOW_LOG_INTERVAL_MS = 10_000;

/**
 * Start a TCP (optionally TLS) transport listening on `options.listen`. Resolves once listening.
 *
 * Connection model: each node writes only on connections it dialed and reads only on connections
 * it accepted — one outbound connection per peer per direction (as Akka Artery does). That makes
 * "which connection survives a simultaneous dial" a non-question, and keeps per-peer order simple:
 * all of A's messages to B go through A's one queue and A's one socket.
 */
export async function createTcpTransport(options: TcpTransportOptions): Promise<TcpTransport> {
  const transport = new TcpTransport(options);
  await transport.listen();
  return transport;
}

export class TcpTransport extends EventEmitter<TcpTransportEvents> implements Transport {
  readonly localId: NodeId;
  readonly #options: TcpTransportOptions;
  readonly #resolved: ResolvedTcpOptions;
  readonly #logger: Logger;
  readonly #random: Random;
  readonly #server: net.Server;
  readonly #links = new Map<NodeId, PeerLink>();
  readonly #inbound = new Map<NodeId, InboundConnection>();
  readonly #allInbound = new Set<InboundConnection>();
  /** Every accepted socket until it closes, including ones lingering after a REJECT. */
  readonly #sockets = new Set<net.Socket>();
  #config: ConnectionConfig | undefined;
  #handler: MessageHandler | undefined;
  #closed = false;
  readonly #counters = {
    msgsDropped: 0,
    msgsReceived: 0,
    bytesReceived: 0,
    authFailures: 0,
    protocolErrors: 0,
  };
  /** When each peer's last SKEIN_SEND_BUFFER_FULL line was logged: a drop storm logs once per interval. */
  readonly #overflowLoggedAtMs = new Map<NodeId, number>();

  /** Use {@link createTcpTransport}; the constructor does not listen. */
  constructor(options: TcpTransportOptions) {
    super();
    this.#resolved = resolveTcpOptions(options);
    this.#options = options;
    this.localId = options.id;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'transport', node: options.id });
    this.#random = options.random ?? Random.fromEntropy();
    this.#server = createListener(
      options.tls,
      this.#resolved.handshakeTimeoutMs,
      (socket) => {
        this.#onConnection(socket);
      },
      (error, remote) => {
        this.#rejected(TransportErrorCode.TlsFailed, 'inbound', remote, undefined, error.message);
      },
    );
  }

  /** The bound address "host:port" (the real port when listening on port 0). */
  get address(): string {
    const bound = this.#server.address();
    if (bound === null || typeof bound === 'string')
      throw new SkeinError(CoreErrorCode.Closed, 'transport is not listening');
    return formatAddress(bound.address, bound.port);
  }

  /** Bind the listener. Called by {@link createTcpTransport}. */
  async listen(): Promise<void> {
    assert(
      this.#config === undefined && !this.#closed,
      'TcpTransport.listen() called twice or after close()',
    );
    const { host, port } = this.#options.listen;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(
          new SkeinError(
            TransportErrorCode.ListenFailed,
            `could not listen on ${formatAddress(host, port)}: ${error.message}; pick a free port or another host`,
            { cause: error },
          ),
        );
      };
      this.#server.once('error', onError);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#server.on('error', (error) => {
      this.#logger.error({ err: error }, 'listener error');
    });
    const bound = parseAddress(this.address);
    this.#config = {
      localId: this.localId,
      advertisedAddress: this.#options.advertise ?? formatAddress(host, bound.port),
      secret: this.#resolved.secret,
      maxFrameBytes: this.#resolved.maxFrameBytes,
      handshakeTimeoutMs: this.#resolved.handshakeTimeoutMs,
    };
    for (const [id, address] of Object.entries(this.#options.peers ?? {})) this.setPeerAddress(id, address);
    this.#logger.info({ address: this.address, tls: this.#options.tls !== undefined }, 'transport listening');
  }

  send(to: NodeId, message: unknown): void {
    if (to === this.localId) {
      this.#sendToSelf(message);
      return;
    }
    const link = this.#links.get(to);
    if (this.#closed) {
      this.#drop(CoreErrorCode.Closed, to, 'transport is closed');
      return;
    }
    if (link === undefined) {
      this.#drop(TransportErrorCode.UnknownPeer, to, 'no address known for peer; call setPeerAddress');
      return;
    }
    const payload = encode(message);
    if (payload.length > this.#resolved.maxFrameBytes) {
      this.#drop(
        TransportErrorCode.FrameTooLarge,
        to,
        `message of ${payload.length} bytes exceeds maxFrameBytes`,
      );
      return;
    }
    if (!link.enqueue(payload)) this.#logOverflow(link);
  }

  setHandler(handler: MessageHandler): void {
    this.#handler = handler;
  }

  setPeerAddress(id: NodeId, address: string): void {
    const parsed = parseAddress(address);
    assert(this.#config !== undefined, 'TcpTransport.setPeerAddress() called before listen()');
    if (id === this.localId || this.#closed) return;
    const link = this.#links.get(id);
    if (link === undefined) this.#links.set(id, this.#createLink(id, parsed, this.#config));
    else link.setAddress(parsed);
  }

  removePeer(id: NodeId): void {
    this.#links.get(id)?.close();
    this.#links.delete(id);
    this.#inbound.get(id)?.close(undefined);
    this.#overflowLoggedAtMs.delete(id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
    for (const connection of this.#allInbound) connection.close(undefined);
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
    this.#logger.info('transport closed');
  }

  /**
   * Bytes waiting to go to `peerId` (queued plus socket-buffered); 0 for an unknown peer. A sender
   * streaming bulk data can pace itself on this instead of running into drops.
   */
  bufferedBytes(peerId: NodeId): number {
    return this.#links.get(peerId)?.bufferedBytes ?? 0;
  }

  stats(): TcpTransportStats {
    const peers: Record<NodeId, TcpPeerStats> = {};
    let msgsSent = 0;
    let socketWrites = 0;
    let linkDrops = 0;
    for (const [id, link] of this.#links) {
      const c = link.counters;
      msgsSent += c.msgsSent;
      socketWrites += c.socketWrites;
      linkDrops += c.msgsDropped;
      peers[id] = {
        address: formatAddress(link.address.host, link.address.port),
        connected: link.connected,
        inboundConnected: this.#inbound.has(id),
        bufferedBytes: link.bufferedBytes,
        queuedMsgs: link.queuedMsgs,
        ...c,
      };
    }
    let pendingHandshakes = 0;
    for (const connection of this.#allInbound) if (!connection.authenticated) pendingHandshakes++;
    const { msgsDropped, ...rest } = this.#counters;
    return {
      ...rest,
      msgsSent,
      socketWrites,
      msgsDropped: msgsDropped + linkDrops,
      pendingHandshakes,
      peers,
    };
  }

  #onConnection(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const config = this.#config;
    const pending = this.#allInbound.size - this.#inbound.size;
    if (this.#closed || config === undefined || pending >= this.#resolved.maxPendingHandshakes) {
      if (config !== undefined && !this.#closed) {
        this.#logger.warn(
          { code: TransportErrorCode.TooManyHandshakes, remote: remoteOf(socket), pending },
          'too many connections mid-handshake; closing new connection (maxPendingHandshakes)',
        );
      }
      socket.destroy();
      return;
    }
    tuneSocket(socket);
    const connection = new InboundConnection(socket, config, {
      onAuthenticated: (c) => {
        this.#onInboundAuthenticated(c);
      },
      onMessage: (from, message, frameBytes) => {
        this.#deliver(from, message, frameBytes);
      },
      onClosed: (c, reason) => {
        this.#onInboundClosed(c, reason);
      },
    });
    this.#allInbound.add(connection);
  }

  #onInboundAuthenticated(connection: InboundConnection): void {
    const peerId = connection.peerId!;
    const previous = this.#inbound.get(peerId);
    this.#inbound.set(peerId, connection);
    // The peer dialed again, so it considers the old connection dead; keep only the newest.
    previous?.close(undefined);
    this.#logger.info({ peer: peerId, remote: connection.framed.remote }, 'inbound connection authenticated');
    if (this.#resolved.learnPeerAddresses && !this.#links.has(peerId)) this.#learnAddress(connection);
    this.emit('peerConnected', peerId, 'inbound');
  }

  /** Dial back a peer that dialed us first (e.g. a node joining through a seed). */
  #learnAddress(connection: InboundConnection): void {
    try {
      const advertised = parseAddress(connection.peerAddress!);
      const host = isUnspecifiedHost(advertised.host)
        ? connection.framed.socket.remoteAddress
        : advertised.host;
      if (host === undefined) return;
      this.setPeerAddress(connection.peerId!, formatAddress(host, advertised.port));
    } catch (error) {
      this.#logger.warn(
        { peer: connection.peerId, err: error },
        'peer advertised an unusable address; ignoring it',
      );
    }
  }

  #onInboundClosed(connection: InboundConnection, reason: CloseReason): void {
    this.#allInbound.delete(connection);
    const peerId = connection.peerId;
    if (peerId !== undefined && this.#inbound.get(peerId) === connection) {
      this.#inbound.delete(peerId);
      this.emit('peerDisconnected', peerId, 'inbound');
    }
    if (reason === undefined || this.#closed) {
      this.#logger.debug(
        { peer: connection.claimedId, remote: connection.framed.remote },
        'inbound connection closed',
      );
      return;
    }
    this.#rejected(reason.code, 'inbound', connection.framed.remote, connection.claimedId, reason.message);
  }

  #createLink(peerId: NodeId, address: HostPort, config: ConnectionConfig): PeerLink {
    return new PeerLink(peerId, address, {
      config,
      random: this.#random,
      reconnectMinMs: this.#resolved.reconnectMinMs,
      reconnectMaxMs: this.#resolved.reconnectMaxMs,
      maxPeerSendBufferBytes: this.#resolved.maxPeerSendBufferBytes,
      coalesceWriteBytes: this.#resolved.coalesceWriteBytes,
      dial: (to) => dial(to, this.#options.tls),
      onOpen: (link) => {
        this.#logger.info({ peer: link.peerId }, 'outbound connection authenticated');
        this.emit('peerConnected', link.peerId, 'outbound');
      },
      onClosed: (link, reason, wasOpen, failures) => {
        if (wasOpen) this.emit('peerDisconnected', link.peerId, 'outbound');
        const remote = formatAddress(link.address.host, link.address.port);
        if (reason === undefined || this.#closed) {
          this.#logger.debug({ peer: link.peerId, remote }, 'outbound connection closed');
        } else if (PROTOCOL_CODES.has(reason.code) || failures === 0) {
          this.#rejected(reason.code, 'outbound', remote, link.peerId, reason.message);
        } else {
          // A peer that stays down would otherwise log every retry; the first failure was logged.
          this.#logger.debug({ code: reason.code, peer: link.peerId, remote, failures }, reason.message);
        }
      },
    });
  }

  #deliver(from: NodeId, message: unknown, frameBytes: number): void {
    this.#counters.msgsReceived++;
    this.#counters.bytesReceived += frameBytes;
    const handler = this.#handler;
    if (handler === undefined) return;
    try {
      handler(from, message);
    } catch (error) {
      // A throwing handler is a bug in the caller; it must not take the connection (or process) down.
      this.#logger.error(
        { code: TransportErrorCode.HandlerFailed, peer: from, err: error },
        'message handler threw',
      );
    }
  }

  #sendToSelf(message: unknown): void {
    // Same semantics as a remote peer: a copy (through the codec), delivered asynchronously.
    const payload = encode(message);
    setImmediate(() => {
      if (!this.#closed) this.#deliver(this.localId, decode(payload), payload.length);
    });
  }

  #logOverflow(link: PeerLink): void {
    const nowMs = performance.now();
    const lastMs = this.#overflowLoggedAtMs.get(link.peerId);
    if (lastMs !== undefined && nowMs - lastMs < OVERFLOW_LOG_INTERVAL_MS) return;
    this.#overflowLoggedAtMs.set(link.peerId, nowMs);
    this.#logger.warn(
      {
        code: TransportErrorCode.SendBufferFull,
        peer: link.peerId,
        bufferedBytes: link.bufferedBytes,
        msgsDropped: link.counters.msgsDropped,
      },
      'send buffer full: dropping messages to this peer (it is slow or unreachable); see maxPeerSendBufferBytes',
    );
  }

  #drop(code: string, peerId: NodeId, message: string): void {
    this.#counters.msgsDropped++;
    this.#logger.debug({ code, peer: peerId }, message);
  }

  #rejected(
    code: string,
    direction: ConnectionDirection,
    remote: string,
    peerId: NodeId | undefined,
    message: string,
  ): void {
    if (code === TransportErrorCode.AuthFailed) this.#counters.authFailures++;
    else if (PROTOCOL_CODES.has(code)) this.#counters.protocolErrors++;
    const level = PROTOCOL_CODES.has(code) || code === TransportErrorCode.TlsFailed ? 'warn' : 'info';
    this.#logger[level]({ code, direction, remote, peer: peerId }, `connection closed: ${message}`);
    const info: RejectionInfo =
      peerId === undefined ? { code, direction, remote } : { code, direction, remote, peerId };
    this.emit('connectionRejected', info);
    if (code === TransportErrorCode.AuthFailed) this.emit('authFailed', info);
  }
}
