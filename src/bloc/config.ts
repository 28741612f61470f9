import { readFileSync } from 'node:fs';
import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import { parseIntSetting, parseListen } from '../server/config.ts';
import type { HostPort } from '../transport/address.ts';
import { BlocDefaults } from './endpoint.ts';

/** The flags of `skein bloc`, as commander hands them over (camelCase, strings). */
export interface BlocFlags {
  readonly timeout?: string;
  readonly settle?: string;
  readonly listen?: string;
  readonly group?: string;
  readonly endpoints?: string;
  readonly authTokenFile?: string;
  readonly dataDir?: string;
  readonly listenClient?: string;
  readonly maxSessions?: string;
  readonly logLevel?: string;
}

/** A validated `skein bloc` configuration. */
export interface BlocConfig {
  readonly timeoutSeconds: number;
  readonly settleMs: number;
  readonly listen: HostPort;
  readonly group: string;
  /** A skein cluster to use; null: run an embedded single-member coordinator. */
  readonly endpoints: readonly string[] | null;
  readonly authToken?: string;
  /** The embedded coordinator's data directory and client API address (unused with `endpoints`). */
  readonly dataDir: string;
  readonly listenClient: string;
  readonly maxSessions: number;
  readonly logLevel: string;
}

/**
 * Defaults where bloc had none: `twist bloc` crashes without `-t`; these are its README's example
 * (`-t 4 -s 6`). bloc listened on every interface; skein listens on loopback unless told otherwise.
 */
export const BlocCliDefaults = {
  timeoutSeconds: 4,
  settleSeconds: 6,
  listen: '127.0.0.1:8989',
  dataDir: './skein-bloc-data',
  listenClient: '127.0.0.1:0',
  logLevel: 'info',
} as const;

const MAX_SECONDS = 3600;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function configError(message: string): SkeinError {
  return new SkeinError(CoreErrorCode.InvalidConfig, message);
}

/** Seconds as bloc takes them: a decimal such as `4` or `0.5`, at most an hour. */
function parseSeconds(value: string | undefined, flag: string, fallback: number, allowZero: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n > MAX_SECONDS || (!allowZero && n === 0)) {
    const least = allowZero ? '0' : 'more than 0';
    throw configError(
      `${flag} must be a number of seconds, ${least} and at most ${MAX_SECONDS}, such as 4 or 0.5 (got "${value}")`,
    );
  }
  return n;
}

function parseEndpoints(value: string): string[] {
  const urls = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (urls.length === 0) throw configError('--endpoints must list client URLs such as http://127.0.0.1:8420');
  for (const url of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw configError(`--endpoints item "${url}" is not an http(s) URL such as http://127.0.0.1:8420`);
    }
  }
  return urls;
}

function readToken(path: string): string {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw configError(`--auth-token-file ${path} cannot be read: ${(error as Error).message}`);
  }
  if (token === '') throw configError(`--auth-token-file ${path} holds an empty token`);
  return token;
}

/** Validate `skein bloc` flags; throws SKEIN_INVALID_CONFIG naming the first bad one and the fix. */
export function resolveBlocConfig(flags: BlocFlags): BlocConfig {
  const d = BlocCliDefaults;
  const timeoutSeconds = parseSeconds(flags.timeout, '--timeout', d.timeoutSeconds, false);
  const settleMs = Math.round(parseSeconds(flags.settle, '--settle', d.settleSeconds, true) * 1000);
  const listen = parseListen(flags.listen ?? d.listen, '--listen');
  const group = flags.group ?? BlocDefaults.group;
  if (group === '' || group.length > 256) throw configError('--group must be a name of 1..256 characters');
  const endpoints = flags.endpoints === undefined ? null : parseEndpoints(flags.endpoints);
  if (endpoints !== null && (flags.dataDir !== undefined || flags.listenClient !== undefined)) {
    throw configError(
      '--data-dir and --listen-client configure the embedded coordinator; drop them when using --endpoints',
    );
  }
  const listenClient = flags.listenClient ?? d.listenClient;
  parseListen(listenClient, '--listen-client');
  const dataDir = flags.dataDir ?? d.dataDir;
  if (dataDir.trim() === '') throw configError('--data-dir must name a directory (created when missing)');
  const logLevel = flags.logLevel ?? process.env['SKEIN_LOG_LEVEL'] ?? d.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw configError(`--log-level "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  return {
    timeoutSeconds,
    settleMs,
    listen,
    group,
    endpoints,
    dataDir,
    listenClient,
    maxSessions: parseIntSetting(flags.maxSessions, '--max-sessions', BlocDefaults.maxSessions, 1, 1_000_000),
    logLevel,
    ...(flags.authTokenFile !== undefined ? { authToken: readToken(flags.authTokenFile) } : {}),
  };
}
