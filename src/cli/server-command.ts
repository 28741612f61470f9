import type { Command } from 'commander';
import { SkeinError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import {
  resolveServerConfig,
  ServerDefaults,
  type ServerConfig,
  type ServerSettings,
} from '../server/config.ts';
import { startServer } from '../server/server.ts';
import { EXIT_CONFIG, EXIT_START_FAILED } from './run-member.ts';

/**
 * `skein server`: one member of the coordination service. With no flags it is the embedded
 * default: a single-member cluster with its data in ./skein-data, clients on 127.0.0.1:8420.
 */
export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description(
      'run a member of the skein coordination service (replicated KV, leases, watches over HTTP); ' +
        'alone by default, or in a cluster of 3 or 5 with --initial-cluster / --join',
    )
    .option('--name <name>', `member name, unique in the cluster (default "${ServerDefaults.name}")`)
    .option('--data-dir <path>', `durable state (default ${ServerDefaults.dataDir})`)
    .option('--listen-client <host:port>', `HTTP API address (default ${ServerDefaults.listenClient})`)
    .option('--listen-peer <host:port>', `Raft peer address (default ${ServerDefaults.listenPeer})`)
    .option('--advertise-client-url <url>', 'client URL told to others (default from --listen-client)')
    .option('--advertise-peer <host:port>', 'peer address told to others (default from --listen-peer)')
    .option('--initial-cluster <list>', 'bootstrap members as name=host:port,... (peer addresses)')
    .option('--join <url>', 'client URL of a running member whose cluster this member joins')
    .option(
      '--cluster-secret-file <path>',
      'shared peer secret (else SKEIN_CLUSTER_SECRET); required for clusters',
    )
    .option('--auth-token-file <path>', 'require "Authorization: Bearer <token>" on the API')
    .option('--tls-cert-file <path>', 'serve HTTPS and TLS between peers with this certificate')
    .option('--tls-key-file <path>', 'the certificate’s private key')
    .option('--tls-ca-file <path>', 'CA of the peers’ certificates')
    .option('--tick-ms <ms>', `milliseconds per Raft tick (default ${ServerDefaults.tickIntervalMs})`)
    .option('--election-ticks <n>', `election timeout in ticks (default ${ServerDefaults.electionTicks})`)
    .option('--request-timeout-ms <ms>', `request deadline (default ${ServerDefaults.requestTimeoutMs})`)
    .option('--max-request-bytes <n>', `largest request body (default ${ServerDefaults.maxRequestBytes})`)
    .option(
      '--auto-compaction-revisions <n>',
      `revisions of history kept, 0 = all (default ${ServerDefaults.autoCompactionRevisions})`,
    )
    .option(
      '--snapshot-every-entries <n>',
      `snapshot the state after this many log entries (default ${ServerDefaults.snapshotEveryEntries})`,
    )
    .option(
      '--watch-progress-interval-ms <ms>',
      `progress notifications (default ${ServerDefaults.watchProgressIntervalMs})`,
    )
    .option('--log-level <level>', 'pino level (default SKEIN_LOG_LEVEL or info)')
    .option('--config <file>', 'JSON file of settings (camelCase keys); flags and SKEIN_* env override it')
    .action(async (flags: ServerSettings) => {
      let config: ServerConfig;
      try {
        config = resolveServerConfig(flags, process.env);
      } catch (error) {
        if (!(error instanceof SkeinError)) throw error;
        process.stderr.write(`skein: ${error.code}: ${error.message}\n`);
        process.exitCode = EXIT_CONFIG;
        return;
      }
      const logger = createLogger({ name: 'skein', level: config.logLevel });
      let server;
      try {
        server = await startServer(config, { logger });
      } catch (error) {
        const code = error instanceof SkeinError ? error.code : 'SKEIN_START_FAILED';
        logger.fatal({ code, err: error }, 'could not start the server');
        // Exit even if a library left a handle open: a daemon that cannot serve must not linger.
        logger.flush();
        process.exit(EXIT_START_FAILED);
      }
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          void server.close(signal).then(() => process.exit(0));
        });
      }
      server.node.once('error', () => {
        void server.close('the raft node failed').then(() => process.exit(EXIT_START_FAILED));
      });
    });
}
