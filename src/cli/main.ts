import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerBlocCommand } from './bloc-command.ts';
import { registerClientCommands } from './client-commands.ts';
import { registerGroupCommands } from './group-commands.ts';
import { registerRaftCommands } from './raft-node.ts';
import { registerServerCommand } from './server-command.ts';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Build the `skein` command tree. Subcommands register themselves here as layers land. */
export function buildCli(): Command {
  const program = new Command('skein')
    .description('coordination for clusters of Node.js processes')
    .version(packageJson.version);
  registerServerCommand(program);
  registerClientCommands(program);
  registerGroupCommands(program);
  registerRaftCommands(program);
  registerBlocCommand(program);
  return program;
}

export async function runCli(argv: readonly string[]): Promise<void> {
  await buildCli().parseAsync(argv);
}
