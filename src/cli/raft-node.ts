import type { Command } from 'commander';
import { parseRaftNodeFlags, type RaftNodeFlags } from './raft-flags.ts';
import { configOrExit, runMember } from './run-member.ts';
import { registerStart } from './start.ts';

/** Register `skein raft-node` and `skein start`. */
export function registerRaftCommands(program: Command): void {
  program
    .command('raft-node')
    .description(
      'run one Raft member over TCP with the built-in key-value state machine (set/get/cas/del); ' +
        'controlled over IPC when started as a child process',
    )
    .option('--id <id>', 'this member’s id, unique and never reused in the cluster')
    .option('--listen <host:port>', 'where to listen for peers')
    .option(
      '--peers <list>',
      'initial cluster as id=host:port,... (this node is added if absent); omit to start detached, to be attached',
    )
    .option(
      '--cluster-secret-file <path>',
      'file holding the shared cluster secret (else SKEIN_CLUSTER_SECRET)',
    )
    .option('--tick-ms <ms>', 'milliseconds per Raft tick (default 100)')
    .option('--election-ticks <n>', 'election timeout in ticks, randomized in [n, 2n) (default 10)')
    .option('--request-timeout-ms <ms>', 'how long a command or read may wait (default 5000)')
    .option(
      '--data-dir <path>',
      'keep the Raft log and vote in this directory, so the member can restart with the same id ' +
        '(default: in memory, lost at exit)',
    )
    .option('--log-level <level>', 'pino level (default SKEIN_LOG_LEVEL or info)')
    .action(async (flags: RaftNodeFlags) => {
      const config = configOrExit(() => parseRaftNodeFlags(flags, process.env));
      if (config === null) return;
      await runMember(config);
    });
  registerStart(program);
}
