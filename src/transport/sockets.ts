import * as net from 'node:net';
import * as tls from 'node:tls';
import type { HostPort } from './address.ts';
import { TcpDefaults, type TcpTlsOptions } from './tcp-options.ts';

/** A socket being dialed, and the event after which it can carry the handshake. */
export interface DialedSocket {
  readonly socket: net.Socket;
  readonly readyEvent: 'connect' | 'secureConnect';
}

/**
 * The listener: plain TCP, or TLS when `tlsOptions` is set (the node:tls server then also enforces
 * `handshakeTimeoutMs` on the TLS handshake itself). `onConnection` gets sockets ready for skein's
 * own handshake; failed TLS handshakes go to `onTlsError`.
 */
export function createListener(
  tlsOptions: TcpTlsOptions | undefined,
  handshakeTimeoutMs: number,
  onConnection: (socket: net.Socket) => void,
  onTlsError: (error: Error, remote: string) => void,
): net.Server {
  if (tlsOptions === undefined) return net.createServer(onConnection);
  const requireClientCert = tlsOptions.requireClientCert ?? false;
  const server = tls.createServer(
    {
      key: tlsOptions.key,
      cert: tlsOptions.cert,
      ...caOption(tlsOptions),
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
      handshakeTimeout: handshakeTimeoutMs,
    },
    onConnection,
  );
  server.on('tlsClientError', (error, socket) => {
    onTlsError(error, remoteOf(socket));
  });
  return server;
}

/** Dial `to` over TCP or TLS. TLS verifies the listener's certificate against `ca` (never disabled). */
export function dial(to: HostPort, tlsOptions: TcpTlsOptions | undefined): DialedSocket {
  let socket: net.Socket;
  if (tlsOptions === undefined) {
    socket = net.connect({ host: to.host, port: to.port });
  } else {
    // SNI must be a host name, never an IP; certificate identity is still checked against `host`.
    const servername = tlsOptions.servername ?? (net.isIP(to.host) === 0 ? to.host : undefined);
    socket = tls.connect({
      host: to.host,
      port: to.port,
      key: tlsOptions.key,
      cert: tlsOptions.cert,
      ...caOption(tlsOptions),
      ...(servername === undefined ? {} : { servername }),
    });
  }
  tuneSocket(socket);
  return { socket, readyEvent: tlsOptions === undefined ? 'connect' : 'secureConnect' };
}

/**
 * No Nagle (we coalesce ourselves, so Nagle would only add latency) and TCP keepalive, so a peer
 * that vanished without a FIN is eventually noticed even on an idle connection.
 */
export function tuneSocket(socket: net.Socket): void {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, TcpDefaults.keepAliveMs);
}

export function remoteOf(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

function caOption(tlsOptions: TcpTlsOptions): { ca?: string | Buffer | (string | Buffer)[] } {
  const ca = tlsOptions.ca;
  if (ca === undefined) return {};
  return { ca: typeof ca === 'string' || Buffer.isBuffer(ca) ? ca : [...ca] };
}
