import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import type { NodeId } from '../raft/types.ts';
import { formatAddress, parseAddress } from '../transport/address.ts';
import { parseIntSetting, parseListen as parseListenSetting, readClusterSecret } from '../server/config.ts';

/** An integer flag in min..max, or SKEIN_INVALID_CONFIG naming it (shared with `skein server`). */
export const parseIntFlag = parseIntSetting;

/** Flags of `skein raft-node` as commander hands them over (all strings, all optional). */
export interface RaftNodeFlags {
  readonly id?: string;
  readonly listen?: string;
  readonly peers?: string;
  readonly clusterSecretFile?: string;
  readonly tickMs?: string;
  readonly electionTicks?: string;
  readonly requestTimeoutMs?: string;
  readonly logLevel?: string;
  readonly dataDir?: string;
}

/** A validated member configuration, shared by `skein raft-node` and `skein start`. */
export interface MemberConfig {
  readonly id: NodeId;
  readonly listen: { readonly host: string; readonly port: number };
  /**
   * Initial voters, id → "host:port", including this node. Empty: start detached and wait for a
   * member to attach this node (a node joining an existing cluster).
   */
  readonly peers: Readonly<Record<NodeId, string>>;
  /** Bootstrap a single-node cluster of this node at its bound address (`skein start`). */
  readonly startAlone?: boolean;
  readonly clusterSecret: string;
  readonly tickIntervalMs: number;
  readonly electionTicks: number;
  readonly requestTimeoutMs: number;
  readonly logLevel: string;
  /** Directory of the durable Raft state (FileStorage); absent: in memory, lost at exit. */
  readonly dataDir?: string;
}

export const MemberDefaults = {
  tickIntervalMs: 100,
  electionTicks: 10,
  requestTimeoutMs: 5000,
  logLevel: 'info',
} as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A flag problem: SKEIN_INVALID_CONFIG with a message naming the flag and what to pass. */
export function flagError(message: string): SkeinError {
  return new SkeinError(CoreErrorCode.InvalidConfig, message);
}

/**
 * Validate the flags of `skein raft-node`. `env` supplies SKEIN_CLUSTER_SECRET when no secret file
 * is given. Throws SKEIN_INVALID_CONFIG naming the first bad flag.
 */
export function parseRaftNodeFlags(flags: RaftNodeFlags, env: NodeJS.ProcessEnv): MemberConfig {
  const id = parseId(flags.id, '--id');
  const listen = parseListen(flags.listen);
  const peers = parsePeers(flags.peers, id, listen);
  return {
    id,
    listen,
    peers,
    clusterSecret: readClusterSecret(flags.clusterSecretFile, env, true)!,
    tickIntervalMs: parseIntFlag(flags.tickMs, '--tick-ms', MemberDefaults.tickIntervalMs, 1, 60_000),
    electionTicks: parseIntFlag(
      flags.electionTicks,
      '--election-ticks',
      MemberDefaults.electionTicks,
      2,
      1000,
    ),
    requestTimeoutMs: parseIntFlag(
      flags.requestTimeoutMs,
      '--request-timeout-ms',
      MemberDefaults.requestTimeoutMs,
      1,
      3_600_000,
    ),
    logLevel: parseLogLevel(flags.logLevel, env),
    ...(flags.dataDir !== undefined ? { dataDir: parseDataDir(flags.dataDir) } : {}),
  };
}

export function parseId(value: string | undefined, flag: string): NodeId {
  if (value === undefined) throw flagError(`${flag} is required (a short stable name such as "n1")`);
  if (!ID_PATTERN.test(value)) {
    throw flagError(`${flag} "${value}" must be 1..64 of [A-Za-z0-9._-], starting with a letter or digit`);
  }
  return value;
}

/** "host:port" where port 0 means "any free port". */
export function parseListen(value: string | undefined): { host: string; port: number } {
  if (value === undefined) throw flagError('--listen is required, e.g. --listen 127.0.0.1:8421');
  return parseListenSetting(value, '--listen');
}

/**
 * "id=host:port,..." → record; empty when no peers are given (the node starts detached). This
 * node is added at its listen address when absent; an entry for it overrides the address the
 * others are told to dial (useful behind NAT or with 0.0.0.0).
 */
export function parsePeers(
  value: string | undefined,
  self: NodeId,
  listen: { host: string; port: number },
): Record<NodeId, string> {
  const peers: Record<NodeId, string> = {};
  const items = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw flagError(`--peers item "${item}" is not id=host:port`);
    const id = parseId(item.slice(0, eq), '--peers id');
    const address = item.slice(eq + 1);
    try {
      parseAddress(address);
    } catch {
      throw flagError(`--peers address of ${id} "${address}" is not host:port with a port in 1..65535`);
    }
    if (Object.hasOwn(peers, id)) throw flagError(`--peers lists ${id} twice`);
    peers[id] = address;
  }
  if (items.length > 0 && !Object.hasOwn(peers, self)) {
    if (listen.port === 0) {
      throw flagError(`--listen port 0 needs an entry for ${self} in --peers so the others can dial it`);
    }
    peers[self] = formatAddress(listen.host, listen.port);
  }
  return peers;
}

function parseDataDir(value: string): string {
  if (value.trim() === '') throw flagError('--data-dir must name a directory (it is created when missing)');
  return value;
}

export function parseLogLevel(value: string | undefined, env: NodeJS.ProcessEnv): string {
  const level = value ?? env['SKEIN_LOG_LEVEL'] ?? MemberDefaults.logLevel;
  if (!LOG_LEVELS.includes(level))
    throw flagError(`log level "${level}" is not one of ${LOG_LEVELS.join(', ')}`);
  return level;
}
