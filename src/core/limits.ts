/**
 * Default bounds shared across layers. Every queue, buffer and frame in skein has an explicit
 * limit; these are the defaults that configs override, with the unit in the name.
 */
export const DefaultLimits = {
  /** Largest frame a transport accepts before closing the connection (16 MiB). */
  maxFrameBytes: 16 * 1024 * 1024,
  /** Bytes a transport buffers for one peer before dropping new messages to it (64 MiB). */
  maxPeerSendBufferBytes: 64 * 1024 * 1024,
  /** Bytes written per socket write when coalescing frames. */
  coalesceWriteBytes: 256 * 1024,
} as const;
