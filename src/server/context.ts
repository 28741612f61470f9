import type { Logger } from '../core/log.ts';
import type { KvLimits, KvStore } from '../kv/index.ts';
import type { StatusResponse } from '../kv/types.ts';
import type { RaftNode } from '../raft/node.ts';
import type { CoordinationState } from './coordination-state.ts';
import type { LeaseExpiry } from './lease-expiry.ts';
import type { ServerMetrics } from './metrics.ts';
import type { WatchHub } from './watch-hub.ts';

/** What the HTTP routes of one member need: its Raft node, store, lease clock and watches. */
export interface ServerContext {
  readonly node: RaftNode;
  readonly store: KvStore;
  /** The replicated state: `store` plus the groups of skein/membership. */
  readonly state: CoordinationState;
  readonly limits: KvLimits;
  readonly leases: LeaseExpiry;
  readonly watches: WatchHub;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** Bearer token required on /v1 (undefined: none). */
  readonly authToken: string | undefined;
  readonly maxRequestBytes: number;
  /** POST `body` to `path` on the leader's client URL and return its JSON answer (or throw its error). */
  forwardToLeader(path: string, body: unknown): Promise<unknown>;
  /** This member's view of the cluster. */
  status(): StatusResponse;
  /** Set while the member shuts down: new requests get 503, watches end. */
  readonly closing: () => boolean;
}
