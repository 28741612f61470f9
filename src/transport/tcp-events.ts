import type { NodeId } from './types.ts';

export type ConnectionDirection = 'inbound' | 'outbound';

/** Events a {@link TcpTransport} emits, for metrics and tests. */
export interface TcpTransportEvents {
  /** An authenticated connection to or from `peerId` is up. */
  peerConnected: [peerId: NodeId, direction: ConnectionDirection];
  /** An authenticated connection ended. */
  peerDisconnected: [peerId: NodeId, direction: ConnectionDirection];
  /** A connection was refused or closed for a protocol, auth or timeout reason (see `code`). */
  connectionRejected: [info: RejectionInfo];
  /** The subset of `connectionRejected` with code SKEIN_AUTH_FAILED: a cluster secret mismatch. */
  authFailed: [info: RejectionInfo];
}

/** Which connection was refused and why. `peerId` is the id the other side claimed, if it got that far. */
export interface RejectionInfo {
  code: string;
  direction: ConnectionDirection;
  remote: string;
  peerId?: NodeId;
}

/** One peer as {@link TcpTransport.stats} reports it. */
export interface TcpPeerStats {
  address: string;
  connected: boolean;
  inboundConnected: boolean;
  bufferedBytes: number;
  queuedMsgs: number;
  msgsSent: number;
  msgsDropped: number;
  socketWrites: number;
  connects: number;
}

/** A snapshot of counters. `msgsSent / socketWrites` is the write-coalescing ratio. */
export interface TcpTransportStats {
  msgsSent: number;
  msgsDropped: number;
  msgsReceived: number;
  bytesReceived: number;
  socketWrites: number;
  authFailures: number;
  protocolErrors: number;
  pendingHandshakes: number;
  peers: Record<NodeId, TcpPeerStats>;
}
