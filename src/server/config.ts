import { readFileSync } from 'node:fs';
import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import { formatAddress, parseAddress, type HostPort } from '../transport/address.ts';

/** A validated `skein server` configuration. */
export interface ServerConfig {
  /** Member name; also its Raft id (never reused for another member of the same cluster). */
  readonly name: string;
  /** Durable state (Raft log, snapshots, cluster secret of a single-member cluster). */
  readonly dataDir: string;
  readonly listenClient: HostPort;
  readonly listenPeer: HostPort;
  /** URL clients are told to use for this member; default http(s)://<listenClient>. */
  readonly advertiseClientUrl?: string;
  /** Address peers dial; default the listen-peer address. */
  readonly advertisePeer?: string;
  /** Bootstrap members, name → peer "host:port". Empty: a single-member cluster (or `join`). */
  readonly initialCluster: Readonly<Record<string, string>>;
  /** Client URL of a running member: join its cluster (as a learner, promoted when caught up). */
  readonly join?: string;
  /** Shared secret authenticating peers; absent for a single-member cluster (one is generated). */
  readonly clusterSecret?: string;
  /** Bearer token every /v1 request must carry; absent: no client authentication. */
  readonly authToken?: string;
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile?: string };
  readonly tickIntervalMs: number;
  readonly electionTicks: number;
  readonly requestTimeoutMs: number;
  /** Largest HTTP request body; larger ones get 413. */
  readonly maxRequestBytes: number;
  /** Keep this many revisions of history (older ones are compacted automatically); 0 = never. */
  readonly autoCompactionRevisions: number;
  /**
   * Snapshot the state after this many applied entries (Raft's `snapshotEveryEntries`; etcd's
   * --snapshot-count), once the log since the last snapshot is also half that snapshot's size.
   */
  readonly snapshotEveryEntries: number;
  /** Idle watches with progressNotify get a progress notification this often. */
  readonly watchProgressIntervalMs: number;
  readonly logLevel: string;
}

export const ServerDefaults = {
  name: 'default',
  dataDir: './skein-data',
  listenClient: '127.0.0.1:8420',
  listenPeer: '127.0.0.1:8421',
  tickIntervalMs: 100,
  electionTicks: 10,
  requestTimeoutMs: 5000,
  maxRequestBytes: 1_572_864,
  autoCompactionRevisions: 100_000,
  // etcd's --snapshot-count. A snapshot serializes the whole state: in bench:kv (up to 100,000
  // keys) each one kept the leader's event loop busy for 190–330 ms. Every 10,000 entries, a
  // store still growing was snapshotted every few seconds under load (p99 at 256 in flight:
  // 194–252 ms, against 87–99 ms with no snapshot in the run).
  snapshotEveryEntries: 100_000,
  watchProgressIntervalMs: 10_000,
  logLevel: 'info',
} as const;

/** Every option, as a flag (kebab-case), an environment variable (SKEIN_*) or a config-file key (camelCase). */
export interface ServerSettings {
  readonly name?: string;
  readonly dataDir?: string;
  readonly listenClient?: string;
  readonly listenPeer?: string;
  readonly advertiseClientUrl?: string;
  readonly advertisePeer?: string;
  readonly initialCluster?: string;
  readonly join?: string;
  readonly clusterSecretFile?: string;
  readonly authTokenFile?: string;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly tlsCaFile?: string;
  readonly tickMs?: string;
  readonly electionTicks?: string;
  readonly requestTimeoutMs?: string;
  readonly maxRequestBytes?: string;
  readonly autoCompactionRevisions?: string;
  readonly snapshotEveryEntries?: string;
  readonly watchProgressIntervalMs?: string;
  readonly logLevel?: string;
  readonly config?: string;
}

const SETTING_KEYS: readonly (keyof ServerSettings)[] = [
  'name',
  'dataDir',
  'listenClient',
  'listenPeer',
  'advertiseClientUrl',
  'advertisePeer',
  'initialCluster',
  'join',
  'clusterSecretFile',
  'authTokenFile',
  'tlsCertFile',
  'tlsKeyFile',
  'tlsCaFile',
  'tickMs',
  'electionTicks',
  'requestTimeoutMs',
  'maxRequestBytes',
  'autoCompactionRevisions',
  'snapshotEveryEntries',
  'watchProgressIntervalMs',
  'logLevel',
];

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function configError(message: string): SkeinError {
  return new SkeinError(CoreErrorCode.InvalidConfig, message);
}

/** `dataDir` → `SKEIN_DATA_DIR`. */
export function envName(key: string): string {
  return `SKEIN_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/**
 * Merge flags over environment over config file (JSON, `--config`/`SKEIN_CONFIG`), then validate.
 * Throws SKEIN_INVALID_CONFIG naming the first bad setting and where it came from.
 */
export function resolveServerConfig(flags: ServerSettings, env: NodeJS.ProcessEnv): ServerConfig {
  const file = readConfigFile(flags.config ?? env['SKEIN_CONFIG']);
  const merged: Record<string, string | undefined> = {};
  for (const key of SETTING_KEYS) {
    merged[key] = flags[key] ?? env[envName(key)] ?? file[key];
  }
  return validateSettings(merged, env);
}

function readConfigFile(path: string | undefined): Record<string, string> {
  if (path === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw configError(`config file ${path} is not readable JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw configError(`config file ${path} must hold a JSON object of settings`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(SETTING_KEYS as readonly string[]).includes(key)) {
      throw configError(`config file ${path}: unknown setting "${key}" (known: ${SETTING_KEYS.join(', ')})`);
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw configError(`config file ${path}: "${key}" must be a string or a number`);
    }
    out[key] = String(value);
  }
  return out;
}

function validateSettings(s: ServerSettings, env: NodeJS.ProcessEnv): ServerConfig {
  const name = s.name ?? ServerDefaults.name;
  if (!NAME_PATTERN.test(name)) {
    throw configError(`--name "${name}" must be 1..64 of [A-Za-z0-9._-], starting with a letter or digit`);
  }
  const dataDir = s.dataDir ?? ServerDefaults.dataDir;
  if (dataDir.trim() === '') throw configError('--data-dir must name a directory (created when missing)');
  const listenClient = parseListen(s.listenClient ?? ServerDefaults.listenClient, '--listen-client');
  const listenPeer = parseListen(s.listenPeer ?? ServerDefaults.listenPeer, '--listen-peer');
  const initialCluster = parseInitialCluster(s.initialCluster);
  if (Object.keys(initialCluster).length > 0 && !Object.hasOwn(initialCluster, name)) {
    throw configError(`--initial-cluster must list this member's --name "${name}"`);
  }
  if (s.join !== undefined && Object.keys(initialCluster).length > 0) {
    throw configError(
      'pass either --initial-cluster (bootstrap) or --join (join a running cluster), not both',
    );
  }
  if (s.join !== undefined) parseUrl(s.join, '--join');
  if (s.advertiseClientUrl !== undefined) parseUrl(s.advertiseClientUrl, '--advertise-client-url');
  if (s.advertisePeer !== undefined) parseHostPort(s.advertisePeer, '--advertise-peer');
  const multiMember = Object.keys(initialCluster).length > 1 || s.join !== undefined;
  const clusterSecret = readClusterSecret(s.clusterSecretFile, env, multiMember);
  const authToken =
    s.authTokenFile === undefined ? undefined : readTextFile(s.authTokenFile, '--auth-token-file');
  if (authToken?.length === 0) throw configError('--auth-token-file holds an empty token');
  if ((s.tlsCertFile === undefined) !== (s.tlsKeyFile === undefined)) {
    throw configError('TLS needs both --tls-cert-file and --tls-key-file');
  }
  const d = ServerDefaults;
  return {
    name,
    dataDir,
    listenClient,
    listenPeer,
    initialCluster,
    tickIntervalMs: parseIntSetting(s.tickMs, '--tick-ms', d.tickIntervalMs, 1, 60_000),
    electionTicks: parseIntSetting(s.electionTicks, '--election-ticks', d.electionTicks, 2, 1000),
    requestTimeoutMs: parseIntSetting(
      s.requestTimeoutMs,
      '--request-timeout-ms',
      d.requestTimeoutMs,
      1,
      3.6e6,
    ),
    maxRequestBytes: parseIntSetting(
      s.maxRequestBytes,
      '--max-request-bytes',
      d.maxRequestBytes,
      1024,
      64 << 20,
    ),
    autoCompactionRevisions: parseIntSetting(
      s.autoCompactionRevisions,
      '--auto-compaction-revisions',
      d.autoCompactionRevisions,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    snapshotEveryEntries: parseIntSetting(
      s.snapshotEveryEntries,
      '--snapshot-every-entries',
      d.snapshotEveryEntries,
      1,
      1e9,
    ),
    watchProgressIntervalMs: parseIntSetting(
      s.watchProgressIntervalMs,
      '--watch-progress-interval-ms',
      d.watchProgressIntervalMs,
      100,
      3.6e6,
    ),
    logLevel: parseLogLevel(s.logLevel ?? d.logLevel),
    ...(s.advertiseClientUrl !== undefined ? { advertiseClientUrl: s.advertiseClientUrl } : {}),
    ...(s.advertisePeer !== undefined ? { advertisePeer: s.advertisePeer } : {}),
    ...(s.join !== undefined ? { join: s.join.replace(/\/+$/, '') } : {}),
    ...(clusterSecret !== undefined ? { clusterSecret } : {}),
    ...(authToken !== undefined ? { authToken } : {}),
    ...(s.tlsCertFile !== undefined && s.tlsKeyFile !== undefined
      ? {
          tls: {
            certFile: s.tlsCertFile,
            keyFile: s.tlsKeyFile,
            ...(s.tlsCaFile !== undefined ? { caFile: s.tlsCaFile } : {}),
          },
        }
      : {}),
  };
}

/** "host:port"; port 0 picks a free one. */
export function parseListen(value: string, flag: string): HostPort {
  const withPort = value.endsWith(':0') ? `${value.slice(0, -2)}:1` : value;
  const parsed = parseHostPort(withPort, flag);
  return { host: parsed.host, port: withPort === value ? parsed.port : 0 };
}

function parseHostPort(value: string, flag: string): HostPort {
  try {
    return parseAddress(value);
  } catch {
    throw configError(`${flag} "${value}" is not host:port (IPv6 as [::1]:port)`);
  }
}

function parseUrl(value: string, flag: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(`${flag} "${value}" is not a URL such as http://127.0.0.1:8420`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw configError(`${flag} "${value}" must be an http:// or https:// URL`);
  }
  return url;
}

/** "name=host:port,..." → record. */
export function parseInitialCluster(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (value ?? '').split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const name = item.slice(0, eq);
    if (eq <= 0 || !NAME_PATTERN.test(name)) {
      throw configError(`--initial-cluster item "${item}" is not name=host:port`);
    }
    const address = parseHostPort(item.slice(eq + 1), `--initial-cluster address of ${name}`);
    if (Object.hasOwn(out, name)) throw configError(`--initial-cluster lists ${name} twice`);
    out[name] = formatAddress(address.host, address.port);
  }
  return out;
}

function readTextFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw configError(`${flag} ${path} cannot be read: ${(error as Error).message}`);
  }
}

/**
 * The cluster secret from `--cluster-secret-file` or SKEIN_CLUSTER_SECRET (at least 16 bytes);
 * undefined when none is given and none is `required`. Shared with `skein raft-node`.
 */
export function readClusterSecret(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  required: boolean,
): string | undefined {
  const secret =
    file !== undefined ? readTextFile(file, '--cluster-secret-file') : env['SKEIN_CLUSTER_SECRET']?.trim();
  if (secret === undefined || secret === '') {
    if (!required) return undefined;
    throw configError(
      'no cluster secret, and a cluster of several members needs one: pass --cluster-secret-file ' +
        '<path> or set SKEIN_CLUSTER_SECRET (the same on every member; generate one with `openssl rand -hex 32`)',
    );
  }
  if (Buffer.byteLength(secret, 'utf8') < 16) {
    throw configError(
      'the cluster secret must be at least 16 bytes; generate one with `openssl rand -hex 32`',
    );
  }
  return secret;
}

/** An integer setting in min..max, or SKEIN_INVALID_CONFIG naming the flag. */
export function parseIntSetting(
  value: string | undefined,
  flag: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw configError(`${flag} must be an integer in ${min}..${max} (got "${value}")`);
  }
  return n;
}

function parseLogLevel(level: string): string {
  if (!LOG_LEVELS.includes(level))
    throw configError(`--log-level "${level}" is not one of ${LOG_LEVELS.join(', ')}`);
  return level;
}
