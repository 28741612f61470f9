import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RealClock, type Clock } from '../core/clock.ts';
import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import { AssignmentStrategy, MAX_SETTLE_MS, MembershipErrorCode } from '../membership/index.ts';
import { formatAddress } from '../transport/address.ts';
import {
  ALLOWED_METHODS,
  BlocRoute,
  errorBody,
  indexBody,
  routeOf,
  SESSION_DELETED_BODY,
  SESSION_HEADER,
  sessionIdOf,
} from './protocol.ts';
import { BlocSessions, type BlocCoordinator } from './sessions.ts';

/** Options of {@link startBlocEndpoint}. */
export interface BlocEndpointOptions {
  /** Where groups live: a skein client (`connect(...)` from skein/client). */
  readonly coordinator: BlocCoordinator;
  /** The skein group bloc's single group maps to. Default `bloc`. */
  readonly group?: string;
  /** bloc's `-t`: a client unheard of this long is evicted. Leases count whole seconds: rounded up. */
  readonly timeoutSeconds: number;
  /** bloc's `-s` in ms: how long the group must go without a join or leave before it settles. */
  readonly settleMs: number;
  /** Port 0 picks a free one. */
  readonly listen: { readonly host: string; readonly port: number };
  readonly logger?: Logger;
  /** Sessions tracked at most (new ones beyond get 503). Default 10,000. */
  readonly maxSessions?: number;
  /** Open client connections at most. Default 4,096. */
  readonly maxConnections?: number;
  /** Deadline of one heartbeat to the coordinator. Default half the timeout, at least 500 ms. */
  readonly heartbeatTimeoutMs?: number;
  /** Injected for tests; default the real clock. */
  readonly clock?: Clock;
}

/** A running bloc endpoint. */
export interface BlocEndpoint {
  /** e.g. `http://127.0.0.1:8989`; bloc clients take the `host:port` part. */
  readonly url: string;
  readonly port: number;
  /** Stop serving. Members stay in the group until their leases expire (a restart keeps them). */
  close(): Promise<void>;
}

export const BlocDefaults = {
  group: 'bloc',
  maxSessions: 10_000,
  maxConnections: 4_096,
} as const;

/** Longest timeout accepted (one hour, like the settle period). */
const MAX_TIMEOUT_SECONDS = 3600;

function invalid(message: string): SkeinError {
  return new SkeinError(CoreErrorCode.InvalidArgument, message);
}

/**
 * Serve bloc's HTTP protocol (`GET /index` with `Bloc-Session-ID`, `DELETE /session`) on top of a
 * skein group, so that existing bloc clients work unchanged against a replicated coordinator.
 * Fails at start when the group already exists with another strategy or settle period.
 */
export async function startBlocEndpoint(options: BlocEndpointOptions): Promise<BlocEndpoint> {
  const group = options.group ?? BlocDefaults.group;
  const { timeoutSeconds, settleMs, coordinator } = options;
  if (!(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 && timeoutSeconds <= MAX_TIMEOUT_SECONDS)) {
    throw invalid(`timeoutSeconds must be in (0, ${MAX_TIMEOUT_SECONDS}] (got ${timeoutSeconds})`);
  }
  if (!(Number.isSafeInteger(settleMs) && settleMs >= 0 && settleMs <= MAX_SETTLE_MS)) {
    throw invalid(`settleMs must be an integer in 0..${MAX_SETTLE_MS} (got ${settleMs})`);
  }
  if (group.length === 0 || group.length > 256) throw invalid('group must be a name of 1..256 chars');
  await checkGroup(coordinator, group, settleMs);

  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? new RealClock();
  const ttlSeconds = Math.ceil(timeoutSeconds);
  const sessions = new BlocSessions({
    coordinator,
    group,
    ttlSeconds,
    settleMs,
    maxSessions: options.maxSessions ?? BlocDefaults.maxSessions,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? Math.max(500, timeoutSeconds * 500),
    clock,
  });
  const warn = throttledWarning(logger, clock);
  const server = createServer((request, response) => {
    handle(request, response, sessions, warn);
  });
  server.maxConnections = options.maxConnections ?? BlocDefaults.maxConnections;
  // Bounds on slow clients: bloc requests are tiny and clients time out after their interval.
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const sweepEveryMs = Math.max(1_000, ttlSeconds * 1000);
  const sweeper = setInterval(() => sessions.sweep(), sweepEveryMs);
  sweeper.unref();
  const port = (server.address() as AddressInfo).port;
  const url = `http://${formatAddress(options.listen.host, port)}`;
  logger.debug({ url, group, ttlSeconds, settleMs }, 'bloc endpoint listening');
  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        clearInterval(sweeper);
        server.close(() => {
          resolve();
        });
        server.closeIdleConnections();
      })),
  };
}

/** Refuse to serve a group created with other settings: every join would fail with a mismatch. */
async function checkGroup(coordinator: BlocCoordinator, group: string, settleMs: number): Promise<void> {
  const view = await coordinator.getGroup(group);
  if (view === null) return;
  if (view.strategy !== AssignmentStrategy.JoinOrder) {
    throw new SkeinError(
      MembershipErrorCode.StrategyMismatch,
      `group ${group} exists with strategy ${view.strategy}, but bloc numbers members in join order; ` +
        'serve another group (--group) or wait until its members have left',
    );
  }
  if (view.settleMs !== settleMs) {
    throw new SkeinError(
      MembershipErrorCode.SettleMismatch,
      `group ${group} exists with a settle period of ${view.settleMs} ms, not ${settleMs} ms; ` +
        `pass --settle ${view.settleMs / 1000}, serve another group (--group), or wait until its members have left`,
    );
  }
}

type Warn = (error: unknown) => void;

function handle(
  request: IncomingMessage,
  response: ServerResponse,
  sessions: BlocSessions,
  warn: Warn,
): void {
  request.resume(); // bloc sends no body; discard whatever comes
  const route = routeOf(request.url ?? '/');
  if (route === null) {
    send(
      response,
      404,
      errorBody('SKEIN_NOT_FOUND', 'no such path: bloc serves GET /index and DELETE /session'),
    );
    return;
  }
  const allowed = ALLOWED_METHODS[route];
  const method = request.method ?? '';
  if (!allowed.includes(method)) {
    const message = `${route} answers ${allowed.join(' and ')}, not ${method}`;
    send(response, 405, errorBody('SKEIN_METHOD_NOT_ALLOWED', message), { allow: allowed.join(', ') });
    return;
  }
  const session = sessionIdOf(request.headersDistinct[SESSION_HEADER]);
  if (!session.ok) {
    send(response, 400, errorBody(CoreErrorCode.InvalidArgument, session.message));
    return;
  }
  const head = method === 'HEAD';
  const work =
    route === BlocRoute.Index
      ? sessions.index(session.id).then((status) => {
          send(response, 200, indexBody(status), {}, head);
        })
      : sessions.leave(session.id).then(() => {
          send(response, 200, SESSION_DELETED_BODY);
        });
  work.catch((error: unknown) => {
    const [status, body] = failure(error);
    if (status >= 500) warn(error);
    send(response, status, body, {}, head);
  });
}

/** The answer for a failed coordinator call. bloc clients read any non-200 as "not settled". */
function failure(error: unknown): [number, string] {
  if (!(error instanceof SkeinError))
    return [500, errorBody('SKEIN_INTERNAL', 'internal error; see the log')];
  switch (error.code) {
    case MembershipErrorCode.NotMember:
      return [404, errorBody(error.code, error.message)];
    case MembershipErrorCode.StrategyMismatch:
    case MembershipErrorCode.SettleMismatch:
      return [409, errorBody(error.code, error.message)];
    default:
      // The coordinator is out of reach, has no leader, or the group is full: retry later.
      return [503, errorBody(error.code, error.message)];
  }
}

function send(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
  head = false,
): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  response.end(head ? undefined : body);
}

/** Log coordinator failures, at most one line per 5 s (a thousand clients fail together). */
function throttledWarning(logger: Logger, clock: Clock): Warn {
  let lastMs = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (error) => {
    const now = clock.now();
    if (now - lastMs < 5_000) {
      suppressed++;
      return;
    }
    logger.warn({ err: error, suppressed }, 'bloc request failed at the coordinator');
    lastMs = now;
    suppressed = 0;
  };
}
