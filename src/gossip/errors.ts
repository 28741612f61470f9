/** Stable error codes raised by skein/gossip. */
export const GossipErrorCode = {
  /** A config value is out of range; the message names the knob. */
  InvalidConfig: 'SKEIN_GOSSIP_INVALID_CONFIG',
  /** An API was called after `leave()`/`close()`; create a new node to rejoin. */
  Closed: 'SKEIN_GOSSIP_CLOSED',
  /** Metadata exceeds `maxMetadataKeys` or holds a value that is not a string/number/boolean. */
  InvalidMetadata: 'SKEIN_GOSSIP_INVALID_METADATA',
  /** `join()` reached none of the seeds within its timeout. */
  JoinFailed: 'SKEIN_GOSSIP_JOIN_FAILED',
} as const;
export type GossipErrorCode = (typeof GossipErrorCode)[keyof typeof GossipErrorCode];
