import { SkeinError } from '../core/errors.ts';
import { GossipErrorCode } from './errors.ts';

/**
 * Every knob of the SWIM/Lifeguard protocol. Defaults follow HashiCorp memberlist's
 * `DefaultLANConfig` and Serf where memberlist has no equivalent; see docs/gossip.md.
 */
export interface GossipConfig {
  /** Time between failure-detection probes (scaled up by local health, Lifeguard LHA-probe). */
  probeIntervalMs: number;
  /** How long to wait for a direct ack before asking others to probe indirectly. */
  probeTimeoutMs: number;
  /** How many members are asked to probe a target indirectly after a direct probe fails. */
  indirectChecks: number;
  /** Suspicion timeout multiplier: min timeout = mult × max(1, log10(n)) × probeInterval. */
  suspicionMult: number;
  /** Max suspicion timeout = this × min timeout (Lifeguard starts here and shrinks with confirmations). */
  suspicionMaxTimeoutMult: number;
  /** Local-health (awareness) score is kept in [0, awarenessMaxMultiplier − 1]. */
  awarenessMaxMultiplier: number;
  /** Time between dissemination rounds. */
  gossipIntervalMs: number;
  /** Members each dissemination round sends to. */
  gossipNodes: number;
  /** Keep gossiping to members that died less than this long ago, so a wrongly-dead member can refute. */
  gossipToTheDeadMs: number;
  /** Each update is sent retransmitMult × ceil(log10(n + 1)) times. */
  retransmitMult: number;
  /** Most updates piggybacked on one message. */
  maxUpdatesPerMessage: number;
  /** Bound on queued updates awaiting dissemination; the most-sent are dropped first. */
  maxQueuedUpdates: number;
  /** Full-state anti-entropy with a random live member (0 disables); scaled up above 32 members. */
  pushPullIntervalMs: number;
  /** Try a full-state sync with a random failed member this often (0 disables): heals partitions. */
  reconnectIntervalMs: number;
  /** Failed members are remembered (and retried) for this long before being forgotten. */
  failedRetentionMs: number;
  /** Members that left are remembered this long, so stale gossip cannot resurrect them. */
  leftRetentionMs: number;
  /** Bound on the member table, including failed and left members. */
  maxMembers: number;
  /** Bound on indirect probes this member runs on behalf of others at once. */
  maxPendingRelays: number;
  /** Bound on the encoded-size-agnostic metadata: at most this many keys. */
  maxMetadataKeys: number;
  /** Vivaldi coordinates on (acks carry them; RTTs from probes update them). */
  vivaldi: boolean;
}

export const DefaultGossipConfig: Readonly<GossipConfig> = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  awarenessMaxMultiplier: 8,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  retransmitMult: 4,
  maxUpdatesPerMessage: 32,
  maxQueuedUpdates: 4096,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 10_000,
  failedRetentionMs: 24 * 3600_000,
  leftRetentionMs: 24 * 3600_000,
  maxMembers: 10_000,
  maxPendingRelays: 256,
  maxMetadataKeys: 64,
  vivaldi: true,
};

/** Merge `overrides` onto the defaults and validate; throws SKEIN_GOSSIP_INVALID_CONFIG. */
export function resolveGossipConfig(overrides: Partial<GossipConfig> = {}): GossipConfig {
  const config: GossipConfig = { ...DefaultGossipConfig, ...overrides };
  const positive: (keyof GossipConfig)[] = [
    'probeIntervalMs',
    'probeTimeoutMs',
    'suspicionMult',
    'suspicionMaxTimeoutMult',
    'awarenessMaxMultiplier',
    'gossipIntervalMs',
    'gossipNodes',
    'retransmitMult',
    'maxUpdatesPerMessage',
    'maxQueuedUpdates',
    'maxMembers',
    'maxPendingRelays',
    'maxMetadataKeys',
  ];
  const nonNegative: (keyof GossipConfig)[] = [
    'indirectChecks',
    'gossipToTheDeadMs',
    'pushPullIntervalMs',
    'reconnectIntervalMs',
    'failedRetentionMs',
    'leftRetentionMs',
  ];
  for (const key of positive) check(key, config[key], 1);
  for (const key of nonNegative) check(key, config[key], 0);
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    throw invalid(
      `probeTimeoutMs (${config.probeTimeoutMs}) must be below probeIntervalMs (${config.probeIntervalMs}) so indirect probes have time to run`,
    );
  }
  return config;
}

function check(key: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw invalid(`gossip config ${key} must be a finite number >= ${min}, got ${String(value)}`);
  }
}

function invalid(message: string): SkeinError {
  return new SkeinError(GossipErrorCode.InvalidConfig, message);
}
