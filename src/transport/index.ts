/**
 * skein/transport: framed, authenticated messages between cluster members.
 * @packageDocumentation
 */
export type { NodeId, MessageHandler, Transport } from './types.ts';
export { createTcpTransport, TcpTransport } from './tcp-transport.ts';
export type {
  ConnectionDirection,
  TcpTransportEvents,
  TcpTransportStats,
  TcpPeerStats,
} from './tcp-events.ts';
export { TcpDefaults, type TcpTransportOptions, type TcpTlsOptions } from './tcp-options.ts';
export { TransportErrorCode } from './errors.ts';
export { PROTOCOL_VERSION } from './handshake.ts';
