import type { Command } from 'commander';
import type { GroupSummary, GroupView } from '../membership/index.ts';
import { addClientOptions, withClient, type ClientFlags } from './client-commands.ts';

function showList(groups: readonly GroupSummary[]): string {
  if (groups.length === 0) return '(no groups)';
  const rows = groups.map(
    (g) =>
      `${g.name}\t${g.state}\tgeneration ${g.generation}\t${g.size} members\t${g.strategy}\tsettle ${g.settleMs} ms`,
  );
  return rows.join('\n');
}

function showGroup(g: GroupView): string {
  const head = `${g.name}: ${g.state}, generation ${g.generation}, ${g.members.length} members, ${g.strategy}, settle ${g.settleMs} ms`;
  const rows = g.members.map((m) => {
    const index = m.index === null ? '-' : `${m.index}/${g.total ?? '?'}`;
    const meta = Object.entries(m.metadata)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return `  ${index}\t${m.id}\tsession ${m.session}${m.weight === undefined ? '' : `\tweight ${m.weight}`}${meta === '' ? '' : `\t${meta}`}`;
  });
  return [head, ...rows].join('\n');
}

/** Register `skein group list` and `skein group show <name>`. */
export function registerGroupCommands(program: Command): void {
  const group = program.command('group').description('inspect membership groups (index/total)');
  addClientOptions(group.command('list').description('every group with members: state, generation, size'))
    .option('--serializable', 'read the answering member’s local state (faster, maybe stale)')
    .action((flags: ClientFlags & { serializable?: boolean }) =>
      withClient(flags, async (client, print) => {
        const groups = await client.listGroups(flags.serializable === true ? { serializable: true } : {});
        print(showList(groups), { groups });
      }),
    );
  addClientOptions(group.command('show <name>').description('a group’s members, in join order, with indexes'))
    .option('--serializable', 'read the answering member’s local state (faster, maybe stale)')
    .action((name: string, flags: ClientFlags & { serializable?: boolean }) =>
      withClient(flags, async (client, print) => {
        const view = await client.getGroup(name, flags.serializable === true ? { serializable: true } : {});
        if (view === null) {
          print(`group ${name} has no members`, { group: null });
          process.exitCode = 1;
          return;
        }
        print(showGroup(view), { group: view });
      }),
    );
}
