import { CoreErrorCode } from '../core/errors.ts';

/**
 * Stable codes for what the TCP transport logs and raises. They appear as `code` in every log line
 * about a refused or closed connection, so operators can alert on them; never rename one.
 */
export const TransportErrorCode = {
  /** The other side does not know the cluster secret (or we do not know theirs). */
  AuthFailed: 'SKEIN_AUTH_FAILED',
  /** The other side speaks a different wire protocol version. */
  ProtocolVersion: 'SKEIN_PROTOCOL_VERSION',
  /** A length prefix larger than the limit (maxFrameBytes, or the handshake limit before auth). */
  FrameTooLarge: CoreErrorCode.FrameTooLarge,
  /** A frame that cannot be valid: a zero length prefix, or bytes after the handshake from a listener. */
  BadFrame: 'SKEIN_BAD_FRAME',
  /** A handshake message with the wrong magic, type, or layout. */
  HandshakeInvalid: 'SKEIN_HANDSHAKE_INVALID',
  /** The connection did not finish connecting and authenticating within handshakeTimeoutMs. */
  HandshakeTimeout: 'SKEIN_HANDSHAKE_TIMEOUT',
  /** The node that answered at a peer's address has a different id than the one we dialed. */
  PeerIdMismatch: 'SKEIN_PEER_ID_MISMATCH',
  /** A data frame whose payload is not one valid msgpack value. */
  DecodeFailed: CoreErrorCode.DecodeFailed,
  /** Too many connections are still handshaking; new ones are closed at once. */
  TooManyHandshakes: 'SKEIN_TOO_MANY_HANDSHAKES',
  /** A message was dropped because the peer's bounded send buffer is full. */
  SendBufferFull: 'SKEIN_SEND_BUFFER_FULL',
  /** A message was dropped because no address is known for the peer. */
  UnknownPeer: 'SKEIN_UNKNOWN_PEER',
  /** Dialing a peer failed (refused, unreachable, reset); the link retries with backoff. */
  ConnectFailed: 'SKEIN_CONNECT_FAILED',
  /** The TLS handshake failed (bad certificate, wrong CA, plain TCP client on a TLS port...). */
  TlsFailed: 'SKEIN_TLS_FAILED',
  /** The message handler threw; the message is lost but the connection stays up. */
  HandlerFailed: 'SKEIN_HANDLER_FAILED',
  /** The listen address is in use or not available on this host. */
  ListenFailed: 'SKEIN_LISTEN_FAILED',
  InvalidConfig: CoreErrorCode.InvalidConfig,
  InvalidArgument: CoreErrorCode.InvalidArgument,
} as const;
export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode];
