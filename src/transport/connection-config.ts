import type { NodeId } from './types.ts';

/** What both connection directions need to know about the local node. */
export interface ConnectionConfig {
  readonly localId: NodeId;
  /** The address this node tells the peers it dials, so they can dial back ("host:port"). */
  readonly advertisedAddress: string;
  readonly secret: Buffer;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
}
