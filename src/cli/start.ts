import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { MemberDefaults, parseId, parseIntFlag, parseListen, parseLogLevel } from './raft-flags.ts';
import { configOrExit, runMember } from './run-member.ts';

export const StartDefaults = { id: 'n1', listen: '127.0.0.1:8421' } as const;

interface StartFlags {
  readonly id?: string;
  readonly listen?: string;
  readonly tickMs?: string;
  readonly logLevel?: string;
}

/**
 * `skein start`: an embedded single-node cluster — one Raft member, bootstrapped with itself as
 * the only voter, replicating the key-value state machine. Its data lives in memory and is lost
 * when the process exits (durable storage is not wired in yet).
 */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run a single-node skein cluster (one Raft member, key-value state machine, data in memory)')
    .option('--id <id>', `member id (default ${StartDefaults.id})`)
    .option('--listen <host:port>', `where to listen (default ${StartDefaults.listen})`)
    .option('--tick-ms <ms>', 'milliseconds per Raft tick (default 100)')
    .option('--log-level <level>', 'pino level (default SKEIN_LOG_LEVEL or info)')
    .action(async (flags: StartFlags) => {
      const config = configOrExit(() => {
        const id = parseId(flags.id ?? StartDefaults.id, '--id');
        const listen = parseListen(flags.listen ?? StartDefaults.listen);
        return {
          id,
          listen,
          peers: {},
          startAlone: true,
          // No peer ever dials a single-node cluster, so a per-process secret is enough unless one is set.
          clusterSecret: process.env['SKEIN_CLUSTER_SECRET'] ?? randomBytes(32).toString('hex'),
          tickIntervalMs: parseIntFlag(flags.tickMs, '--tick-ms', MemberDefaults.tickIntervalMs, 1, 60_000),
          electionTicks: MemberDefaults.electionTicks,
          requestTimeoutMs: MemberDefaults.requestTimeoutMs,
          logLevel: parseLogLevel(flags.logLevel, process.env),
        };
      });
      if (config === null) return;
      await runMember(config, (member, logger) => {
        // The only voter need not wait out an election timeout.
        member.node.campaign();
        member.node.once('leader', () => {
          const s = member.node.status();
          logger.info(
            {
              id: s.id,
              address: member.address,
              role: s.role,
              term: s.term,
              commitIndex: s.commitIndex,
              voters: Object.keys(s.config.voters),
              storage: 'memory',
            },
            'single-node cluster ready (data is kept in memory only); stop with Ctrl-C or SIGTERM',
          );
        });
      });
    });
}
