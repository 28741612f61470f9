import type { Logger } from '../core/log.ts';
import { DefaultLimits } from '../core/limits.ts';
import { SkeinError } from '../core/errors.ts';
import type { Random } from '../core/random.ts';
import { parseAddress } from './address.ts';
import { TransportErrorCode } from './errors.ts';
import { MAX_HANDSHAKE_FRAME_BYTES, assertName } from './handshake.ts';
import type { NodeId } from './types.ts';

/** TLS for every connection. With TLS the HMAC handshake still runs, inside the encrypted stream. */
export interface TcpTlsOptions {
  /** This node's private key and certificate (PEM), used as server and, for mutual TLS, as client. */
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** CA(s) that signed the peers' certificates (PEM); for a self-signed cluster cert, the cert itself. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Require dialers to present a certificate signed by `ca` (mutual TLS). Default false. */
  readonly requireClientCert?: boolean;
  /** Name checked against the listener's certificate when dialing; default: the dialed host. */
  readonly servername?: string;
}

/** Options of {@link createTcpTransport}. Every limit has a default in {@link TcpDefaults}. */
export interface TcpTransportOptions {
  /** This node's id, unique in the cluster. */
  readonly id: NodeId;
  /** Where to listen. Port 0 picks a free port; read it back from `transport.address`. */
  readonly listen: { readonly host: string; readonly port: number };
  /** Address peers should dial to reach us ("host:port"); default: the listen host and bound port. */
  readonly advertise?: string;
  /** Shared by every node of the cluster; at least 16 bytes, ideally 32 random bytes. */
  readonly clusterSecret: string | Uint8Array;
  /** Initial peer addresses by id ("host:port"). More can be added with `setPeerAddress`. */
  readonly peers?: Readonly<Record<NodeId, string>>;
  /** Largest encoded message accepted or sent. Default 16 MiB. Must agree across the cluster. */
  readonly maxFrameBytes?: number;
  /** Per-peer bound on queued plus socket-buffered bytes; sends beyond it are dropped. Default 64 MiB. */
  readonly maxPeerSendBufferBytes?: number;
  /** Target size of one coalesced socket write. Default 256 KiB. */
  readonly coalesceWriteBytes?: number;
  /** First reconnect delay ceiling; doubles per failure up to `reconnectMaxMs`. Defaults 100 / 5000. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** Time allowed to connect (incl. TLS) and authenticate, each direction. Default 5000. */
  readonly handshakeTimeoutMs?: number;
  /** Inbound connections allowed to be mid-handshake at once; more are closed at once. Default 64. */
  readonly maxPendingHandshakes?: number;
  /** Dial back an authenticated dialer at the address it advertised, if we know none. Default true. */
  readonly learnPeerAddresses?: boolean;
  readonly tls?: TcpTlsOptions;
  /** Default: silent. Refused connections log at warn with a stable `code`. */
  readonly logger?: Logger;
  /** Jitter source for reconnect backoff; default seeded from entropy. */
  readonly random?: Random;
}

export const TcpDefaults = {
  maxFrameBytes: DefaultLimits.maxFrameBytes,
  maxPeerSendBufferBytes: DefaultLimits.maxPeerSendBufferBytes,
  coalesceWriteBytes: DefaultLimits.coalesceWriteBytes,
  reconnectMinMs: 100,
  reconnectMaxMs: 5000,
  handshakeTimeoutMs: 5000,
  maxPendingHandshakes: 64,
  /** TCP keepalive probes start after this much idle time, so a vanished peer is noticed. */
  keepAliveMs: 15_000,
  minSecretBytes: 16,
} as const;

/** The options with defaults applied and every bound validated. */
export type ResolvedTcpOptions = Required<
  Pick<
    TcpTransportOptions,
    | 'maxFrameBytes'
    | 'maxPeerSendBufferBytes'
    | 'coalesceWriteBytes'
    | 'reconnectMinMs'
    | 'reconnectMaxMs'
    | 'handshakeTimeoutMs'
    | 'maxPendingHandshakes'
    | 'learnPeerAddresses'
  >
> & { readonly secret: Buffer };

export function resolveTcpOptions(options: TcpTransportOptions): ResolvedTcpOptions {
  assertName(options.id, 'node id');
  for (const [id, address] of Object.entries(options.peers ?? {})) {
    assertName(id, 'peer id');
    parseAddress(address);
  }
  if (options.advertise !== undefined) {
    assertName(options.advertise, 'advertise address');
    parseAddress(options.advertise);
  }
  const secret = Buffer.from(
    typeof options.clusterSecret === 'string'
      ? Buffer.from(options.clusterSecret, 'utf8')
      : options.clusterSecret,
  );
  if (secret.length < TcpDefaults.minSecretBytes) {
    throw configError(
      `clusterSecret must be at least ${TcpDefaults.minSecretBytes} bytes (got ${secret.length}); ` +
        'generate one with `openssl rand -hex 32`',
    );
  }
  const resolved = {
    maxFrameBytes: options.maxFrameBytes ?? TcpDefaults.maxFrameBytes,
    maxPeerSendBufferBytes: options.maxPeerSendBufferBytes ?? TcpDefaults.maxPeerSendBufferBytes,
    coalesceWriteBytes: options.coalesceWriteBytes ?? TcpDefaults.coalesceWriteBytes,
    reconnectMinMs: options.reconnectMinMs ?? TcpDefaults.reconnectMinMs,
    reconnectMaxMs: options.reconnectMaxMs ?? TcpDefaults.reconnectMaxMs,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? TcpDefaults.handshakeTimeoutMs,
    maxPendingHandshakes: options.maxPendingHandshakes ?? TcpDefaults.maxPendingHandshakes,
    learnPeerAddresses: options.learnPeerAddresses ?? true,
    secret,
  };
  for (const key of [
    'maxFrameBytes',
    'maxPeerSendBufferBytes',
    'coalesceWriteBytes',
    'reconnectMinMs',
    'reconnectMaxMs',
    'handshakeTimeoutMs',
    'maxPendingHandshakes',
  ] as const) {
    const value = resolved[key];
    if (!Number.isSafeInteger(value) || value < 1)
      throw configError(`${key} must be a positive integer, got ${value}`);
  }
  // A u32 length prefix bounds frames; below the handshake limit, data frames would be odd.
  if (resolved.maxFrameBytes > 0xffff_ffff || resolved.maxFrameBytes < MAX_HANDSHAKE_FRAME_BYTES) {
    throw configError(`maxFrameBytes must be in ${MAX_HANDSHAKE_FRAME_BYTES}..4294967295`);
  }
  if (resolved.reconnectMaxMs < resolved.reconnectMinMs) {
    throw configError('reconnectMaxMs must be at least reconnectMinMs');
  }
  return resolved;
}

function configError(message: string): SkeinError {
  return new SkeinError(TransportErrorCode.InvalidConfig, message);
}
