/** A node's identity in a cluster: a short stable string chosen by the operator (e.g. "n1"). */
export type NodeId = string;

/** Called for every message that arrives from an authenticated peer. */
export type MessageHandler = (from: NodeId, message: unknown) => void;

/**
 * How protocols talk to each other. Delivery is best-effort: a message may be lost, delayed or
 * (in the simulator) duplicated and reordered; protocols built on it must tolerate all of that.
 * While one connection lasts, messages to one peer arrive in the order they were sent.
 *
 * Implementations: the TCP transport (`createTcpTransport`) for production, and the simulated
 * network in skein/testing for the simulator.
 */
export interface Transport {
  readonly localId: NodeId;
  /** Queue `message` for `to`. Never throws for network trouble; drops and counts instead. */
  send(to: NodeId, message: unknown): void;
  /** Install the (single) receiver of incoming messages. */
  setHandler(handler: MessageHandler): void;
  /** Tell the transport where a peer listens ("host:port"). */
  setPeerAddress(id: NodeId, address: string): void;
  /** Forget a peer and close any connection to it. */
  removePeer(id: NodeId): void;
  /** Stop listening, close every connection, drop queued messages. */
  close(): Promise<void>;
}
