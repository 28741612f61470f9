/**
 * skein/transport: framed, authenticated messages between cluster members.
 * @packageDocumentation
 */
export type { NodeId, MessageHandler, Transport } from './types.ts';
export {
  createTcpTransport,
  TcpTransport,
  type ConnectionDirection,
  type TcpTransportEvents,
  type TcpTransportStats,
  type TcpPeerStats,
} from './tcp-transport.ts';
export { TcpDefaults, type TcpTransportOptions, type TcpTlsOptions } from './tcp-options.ts';
export { TransportErrorCode } from './errors.ts';
export { PROTOCOL_VERSION } from './handshake.ts';
