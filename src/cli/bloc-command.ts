import type { Command } from 'commander';
import { BlocCliDefaults, resolveBlocConfig, type BlocConfig, type BlocFlags } from '../bloc/config.ts';
import { BlocDefaults, startBlocEndpoint, type BlocEndpoint } from '../bloc/endpoint.ts';
import { connect, type SkeinClient } from '../client/skein-client.ts';
import { SkeinError } from '../core/errors.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { resolveServerConfig } from '../server/config.ts';
import { startServer, type SkeinServer } from '../server/server.ts';
import { EXIT_CONFIG, EXIT_START_FAILED } from './run-member.ts';

/**
 * `skein bloc`: bloc's HTTP protocol (`GET /index`, `DELETE /session`) for existing bloc clients,
 * backed by a replicated skein group: an embedded single-member coordinator by default, or a
 * skein cluster with --endpoints. See docs/bloc.md.
 */
export function registerBlocCommand(program: Command): void {
  const d = BlocCliDefaults;
  program
    .command('bloc')
    .description(
      'serve the bloc group-membership protocol (GET /index with Bloc-Session-ID, DELETE /session) ' +
        'so that existing bloc clients work unchanged, on a replicated skein group',
    )
    .option(
      '--timeout <seconds>',
      `bloc's -t: evict a client unheard of this long (default ${d.timeoutSeconds})`,
    )
    .option(
      '--settle <seconds>',
      `bloc's -s: settle after this long without change (default ${d.settleSeconds})`,
    )
    .option(
      '--listen <host:port>',
      `where bloc clients connect (default ${d.listen}; bloc used all interfaces)`,
    )
    .option('--group <name>', `the skein group bloc's group maps to (default ${BlocDefaults.group})`)
    .option(
      '--endpoints <urls>',
      'comma-separated client URLs of a skein cluster (default: embedded coordinator)',
    )
    .option(
      '--auth-token-file <path>',
      'bearer token of the skein API (required by the cluster, or set on the embedded one)',
    )
    .option('--data-dir <path>', `embedded coordinator's durable state (default ${d.dataDir})`)
    .option('--listen-client <host:port>', `embedded coordinator's skein API (default ${d.listenClient})`)
    .option('--max-sessions <n>', `bloc sessions tracked at most (default ${BlocDefaults.maxSessions})`)
    .option('--log-level <level>', 'pino level (default SKEIN_LOG_LEVEL or info)')
    .action(async (flags: BlocFlags) => {
      let config: BlocConfig;
      try {
        config = resolveBlocConfig(flags);
      } catch (error) {
        if (!(error instanceof SkeinError)) throw error;
        process.stderr.write(`skein: ${error.code}: ${error.message}\n`);
        process.exitCode = EXIT_CONFIG;
        return;
      }
      await runBloc(config);
    });
}

/** What runs: the embedded coordinator (if any), the client, the endpoint. Closed in reverse. */
interface Running {
  server?: SkeinServer;
  client?: SkeinClient;
  endpoint?: BlocEndpoint;
}

async function runBloc(config: BlocConfig): Promise<void> {
  const logger = createLogger({ name: 'skein-bloc', level: config.logLevel });
  const running: Running = {};
  const stop = async (): Promise<void> => {
    await running.endpoint?.close();
    await running.client?.close();
    await running.server?.close();
  };
  try {
    const endpoints = config.endpoints ?? [await startEmbedded(config, logger, running)];
    running.client = await connect({
      endpoints,
      ...(config.authToken !== undefined ? { token: config.authToken } : {}),
      // bloc clients give up after their interval; answer (503) before they do.
      requestTimeoutMs: Math.min(10_000, Math.max(1_000, config.timeoutSeconds * 1000)),
    });
    running.endpoint = await startBlocEndpoint({
      coordinator: running.client,
      group: config.group,
      timeoutSeconds: config.timeoutSeconds,
      settleMs: config.settleMs,
      listen: config.listen,
      maxSessions: config.maxSessions,
      logger,
    });
  } catch (error) {
    const code = error instanceof SkeinError ? error.code : 'SKEIN_START_FAILED';
    logger.fatal({ code, err: error }, `could not start the bloc endpoint: ${(error as Error).message}`);
    await stop().catch(() => undefined);
    logger.flush();
    // Exit even if a library left a handle open: an endpoint that cannot serve must not linger.
    process.exit(EXIT_START_FAILED);
  }
  logger.info(
    {
      url: running.endpoint.url,
      group: config.group,
      timeoutSeconds: config.timeoutSeconds,
      settleMs: config.settleMs,
      coordinator: config.endpoints ?? 'embedded',
      ...(running.server !== undefined
        ? { clientUrl: running.server.clientUrl, dataDir: config.dataDir }
        : {}),
    },
    'bloc endpoint ready',
  );
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'stopping');
      void stop().then(
        () => process.exit(0),
        () => process.exit(EXIT_START_FAILED),
      );
    });
  }
  running.server?.node.once('error', () => {
    void stop().then(() => process.exit(EXIT_START_FAILED));
  });
}

/** Start the single-member coordinator; resolves with its client URL once it leads. */
async function startEmbedded(config: BlocConfig, logger: Logger, running: Running): Promise<string> {
  const serverConfig = resolveServerConfig(
    {
      dataDir: config.dataDir,
      listenClient: config.listenClient,
      listenPeer: '127.0.0.1:0',
      logLevel: config.logLevel,
    },
    {}, // only skein bloc's own flags shape the embedded coordinator
  );
  const server = await startServer(
    config.authToken !== undefined ? { ...serverConfig, authToken: config.authToken } : serverConfig,
    { logger },
  );
  running.server = server;
  // The only voter campaigns at once; wait (bounded) until it leads and has published its URL.
  for (let i = 0; i < 500 && server.status().members.every((m) => m.clientUrl === ''); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return server.clientUrl;
}
