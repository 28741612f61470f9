import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { adoptLease } from '../client/lease-keeper.ts';
import { connect, type SkeinClient } from '../client/skein-client.ts';
import { ServerDefaults } from '../server/config.ts';
import { restoreBackup } from '../server/restore.ts';
import { SkeinError } from '../core/errors.ts';
import type { KeyValue, LeaseKeepAliveResponse, WatchResponse } from '../kv/types.ts';
import { EXIT_CONFIG, EXIT_START_FAILED } from './run-member.ts';

/** Options every client command takes. */
export interface ClientFlags {
  readonly endpoints?: string;
  readonly tokenFile?: string;
  readonly json?: boolean;
}

const DEFAULT_ENDPOINT = 'http://127.0.0.1:8420';

export function addClientOptions(command: Command): Command {
  return command
    .option(
      '--endpoints <urls>',
      `comma-separated member URLs (default SKEIN_ENDPOINTS or ${DEFAULT_ENDPOINT})`,
    )
    .option('--token-file <path>', 'bearer token file (else SKEIN_TOKEN)')
    .option('--json', 'print JSON, for scripts');
}

/** Parse a non-negative integer argument or throw SKEIN_INVALID_ARGUMENT naming it. */
function intArg(value: string | undefined, name: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new SkeinError('SKEIN_INVALID_ARGUMENT', `${name} must be an integer ≥ ${min} (got "${value}")`);
  }
  return n;
}

/** Run `body` with a connected client; print errors as `skein: CODE: message` and set the exit code. */
export async function withClient(
  flags: ClientFlags,
  body: (client: SkeinClient, print: (human: string, json: unknown) => void) => Promise<void>,
): Promise<void> {
  const print = (human: string, json: unknown): void => {
    process.stdout.write(flags.json === true ? `${JSON.stringify(json)}\n` : `${human}\n`);
  };
  let client: SkeinClient | undefined;
  try {
    const endpoints = (flags.endpoints ?? process.env['SKEIN_ENDPOINTS'] ?? DEFAULT_ENDPOINT)
      .split(',')
      .map((s) => s.trim());
    const token =
      flags.tokenFile !== undefined
        ? readFileSync(flags.tokenFile, 'utf8').trim()
        : process.env['SKEIN_TOKEN'];
    client = await connect({ endpoints, ...(token !== undefined ? { token } : {}) });
    await body(client, print);
  } catch (error) {
    const code = errorCode(error);
    process.stderr.write(`skein: ${describeError(error)}\n`);
    process.exitCode = code === 'SKEIN_INVALID_ARGUMENT' ? EXIT_CONFIG : EXIT_START_FAILED;
  } finally {
    await client?.close();
  }
}

function errorCode(error: unknown): string {
  return error instanceof SkeinError ? error.code : 'SKEIN_FAILED';
}

/** `CODE: message`, as the CLI prints an error. */
function describeError(error: unknown): string {
  return `${errorCode(error)}: ${error instanceof Error ? error.message : String(error)}`;
}

function showKv(kv: KeyValue): string {
  return `${kv.key}\n${kv.value}`;
}

/** Register `skein kv`, `skein lease`, `skein members`, `skein status` and `skein snapshot save`. */
export function registerClientCommands(program: Command): void {
  const kv = program.command('kv').description('read and write keys');
  addClientOptions(kv.command('put <key> <value>').description('set a key'))
    .option('--lease <id>', 'attach the key to a lease')
    .option('--prev-kv', 'print the previous value')
    .action((key: string, value: string, flags: ClientFlags & { lease?: string; prevKv?: boolean }) =>
      withClient(flags, async (client, print) => {
        const lease = intArg(flags.lease, '--lease');
        const answer = await client.put({
          key,
          value,
          ...(lease !== undefined ? { lease } : {}),
          prevKv: flags.prevKv === true,
        });
        print(answer.prevKv !== undefined ? `OK\n${showKv(answer.prevKv)}` : 'OK', answer);
      }),
    );
  addClientOptions(kv.command('get <key>').description('read a key, or a prefix'))
    .option('--prefix', 'every key starting with <key>')
    .option('--limit <n>', 'at most n keys')
    .option('--rev <n>', 'as of this revision')
    .option('--keys-only', 'print keys only')
    .option('--serializable', 'read this member’s state without a read barrier (may be stale)')
    .action(
      (
        key: string,
        flags: ClientFlags & {
          prefix?: boolean;
          limit?: string;
          rev?: string;
          keysOnly?: boolean;
          serializable?: boolean;
        },
      ) =>
        withClient(flags, async (client, print) => {
          const limit = intArg(flags.limit, '--limit');
          const revision = intArg(flags.rev, '--rev');
          const answer = await client.range(
            {
              key,
              prefix: flags.prefix === true,
              keysOnly: flags.keysOnly === true,
              ...(limit !== undefined ? { limit } : {}),
              ...(revision !== undefined ? { revision } : {}),
            },
            { serializable: flags.serializable === true },
          );
          print(answer.kvs.map((k) => (flags.keysOnly === true ? k.key : showKv(k))).join('\n'), answer);
        }),
    );
  addClientOptions(kv.command('del <key>').description('delete a key, or a prefix'))
    .option('--prefix', 'every key starting with <key>')
    .action((key: string, flags: ClientFlags & { prefix?: boolean }) =>
      withClient(flags, async (client, print) => {
        const answer = await client.deleteRange({ key, prefix: flags.prefix === true });
        print(String(answer.deleted), answer);
      }),
    );
  addClientOptions(kv.command('watch <key>').description('print changes until interrupted'))
    .option('--prefix', 'every key starting with <key>')
    .option('--rev <n>', 'start at this revision (replaying history)')
    .option('--prev-kv', 'include previous values')
    .action((key: string, flags: ClientFlags & { prefix?: boolean; rev?: string; prevKv?: boolean }) =>
      withClient(flags, async (client, print) => {
        const startRevision = intArg(flags.rev, '--rev');
        await new Promise<void>((resolve, reject) => {
          const onResponse = (r: WatchResponse): void => {
            for (const e of r.events)
              print(`${e.type.toUpperCase()}\n${showKv(e.kv)}`, { revision: r.revision, ...e });
          };
          client
            .watch(
              {
                key,
                prefix: flags.prefix === true,
                prevKv: flags.prevKv === true,
                ...(startRevision !== undefined ? { startRevision } : {}),
              },
              { onResponse, onError: reject },
            )
            .then((handle) => {
              process.once('SIGINT', () => {
                void handle.cancel().then(resolve);
              });
            }, reject);
        });
      }),
    );

  const lease = program.command('lease').description('grant, renew and revoke leases');
  addClientOptions(lease.command('grant <ttlSeconds>').description('grant a lease')).action(
    (ttl: string, flags: ClientFlags) =>
      withClient(flags, async (client, print) => {
        const answer = await client.grantLease(intArg(ttl, 'ttlSeconds', 1) ?? 1);
        print(`lease ${answer.id} granted with TTL ${answer.ttlSeconds}s`, answer);
      }),
  );
  addClientOptions(lease.command('revoke <id>').description('revoke a lease and delete its keys')).action(
    (id: string, flags: ClientFlags) =>
      withClient(flags, async (client, print) => {
        const answer = await client.revokeLease(intArg(id, 'id') ?? 0);
        print(`lease ${id} revoked`, answer);
      }),
  );
  addClientOptions(lease.command('keepalive <id>').description('renew a lease every TTL/3 until interrupted'))
    .option('--once', 'renew once and exit')
    .action((id: string, flags: ClientFlags & { once?: boolean }) =>
      withClient(flags, async (client, print) => {
        const leaseId = intArg(id, 'id') ?? 0;
        const report = (answer: LeaseKeepAliveResponse): void => {
          print(`lease ${leaseId} keepalived with TTL ${answer.ttlSeconds}s`, answer);
        };
        if (flags.once === true) {
          report(await client.keepAliveOnce(leaseId));
          return;
        }
        // The lease keeper's cadence: every TTL / 3, each renewal bounded so that a paused member
        // cannot hold it, transient failures retried on the next member. It ends the command only
        // when the lease is gone (revoked, expired, or not renewed within its TTL).
        const lease = await adoptLease(client, leaseId, {
          onRenewed: report,
          onRenewError: (error) => {
            process.stderr.write(`skein: renewal failed, retrying: ${describeError(error)}\n`);
          },
        });
        await new Promise<void>((resolve, reject) => {
          lease.on('lost', reject);
          process.once('SIGINT', () => {
            lease.stop();
            resolve();
          });
        });
      }),
    );
  addClientOptions(lease.command('timetolive <id>').description('remaining TTL and keys of a lease')).action(
    (id: string, flags: ClientFlags) =>
      withClient(flags, async (client, print) => {
        const info = await client.leaseTimeToLive(intArg(id, 'id') ?? 0);
        if (info === null) throw new SkeinError('SKEIN_LEASE_NOT_FOUND', `lease ${id} does not exist`);
        print(
          `lease ${id}: ${info.ttlSeconds}s left of ${info.grantedTtlSeconds}s, keys: ${info.keys.join(', ')}`,
          info,
        );
      }),
  );
  addClientOptions(lease.command('list').description('list leases')).action((flags: ClientFlags) =>
    withClient(flags, async (client, print) => {
      const leases = await client.listLeases();
      print(leases.map((l) => `${l.id} ttl=${l.grantedTtlSeconds}s`).join('\n'), { leases });
    }),
  );

  const members = program.command('members').description('list and change the cluster’s members');
  const showMembers = (
    list: readonly { id: string; peerUrl: string; clientUrl: string; learner: boolean }[],
  ): string =>
    list.map((m) => `${m.id}\t${m.peerUrl}\t${m.clientUrl}\t${m.learner ? 'learner' : 'voter'}`).join('\n');
  addClientOptions(members.command('list').description('list members')).action((flags: ClientFlags) =>
    withClient(flags, async (client, print) => {
      const list = await client.members();
      print(showMembers(list), { members: list });
    }),
  );
  addClientOptions(
    members.command('add <name> <peerAddress>').description('add a member (learner until caught up)'),
  )
    .option('--learner', 'keep it a non-voting learner')
    .action((name: string, peer: string, flags: ClientFlags & { learner?: boolean }) =>
      withClient(flags, async (client, print) => {
        const list = await client.addMember(name, peer, flags.learner === true);
        print(showMembers(list), { members: list });
      }),
    );
  addClientOptions(members.command('remove <name>').description('remove a member')).action(
    (name: string, flags: ClientFlags) =>
      withClient(flags, async (client, print) => {
        const list = await client.removeMember(name);
        print(showMembers(list), { members: list });
      }),
  );
  addClientOptions(members.command('promote <name>').description('make a caught-up learner a voter')).action(
    (name: string, flags: ClientFlags) =>
      withClient(flags, async (client, print) => {
        const list = await client.promoteMember(name);
        print(showMembers(list), { members: list });
      }),
  );

  addClientOptions(
    program.command('status').description('members, leader, term, revision, raft index, data size'),
  ).action((flags: ClientFlags) =>
    withClient(flags, async (client, print) => {
      const s = await client.status();
      print(
        [
          `member ${s.name} (${s.id}), leader ${s.leader ?? 'none'}, term ${s.term}`,
          `revision ${s.revision} (compacted to ${s.compactRevision}), raft index ${s.raftIndex} (applied ${s.raftAppliedIndex})`,
          `keys ${s.keys}, leases ${s.leases}, data ${s.dbSizeBytes} bytes, version ${s.version}`,
          showMembers(s.members),
        ].join('\n'),
        s,
      );
    }),
  );

  const snapshot = program.command('snapshot').description('back up the store');
  addClientOptions(
    snapshot.command('save <file>').description('write a consistent backup of the store to <file>'),
  ).action((file: string, flags: ClientFlags) =>
    withClient(flags, async (client, print) => {
      const bytes = await client.snapshot();
      writeFileSync(file, bytes, { mode: 0o600 });
      print(`saved ${bytes.byteLength} bytes to ${file}`, { file, bytes: bytes.byteLength });
    }),
  );
  snapshot
    .command('restore <file>')
    .description('build the data directory of a new one-member cluster from a backup (offline)')
    .requiredOption('--data-dir <path>', 'a new directory for the restored member')
    .option('--name <name>', `the restored member's name (default "${ServerDefaults.name}")`)
    .option('--listen-peer <host:port>', `its peer address (default ${ServerDefaults.listenPeer})`)
    .option('--json', 'print JSON, for scripts')
    .action(
      async (
        file: string,
        flags: { dataDir: string; name?: string; listenPeer?: string; json?: boolean },
      ) => {
        try {
          const name = flags.name ?? ServerDefaults.name;
          const peerAddress = flags.listenPeer ?? ServerDefaults.listenPeer;
          const restored = await restoreBackup({ file, dataDir: flags.dataDir, name, peerAddress });
          const human =
            `restored revision ${restored.revision} (${restored.keys} keys) into ${flags.dataDir}; start it with\n` +
            `  skein server --name ${name} --data-dir ${flags.dataDir} --listen-peer ${peerAddress}`;
          process.stdout.write(flags.json === true ? `${JSON.stringify(restored)}\n` : `${human}\n`);
        } catch (error) {
          const code = error instanceof SkeinError ? error.code : 'SKEIN_FAILED';
          process.stderr.write(`skein: ${code}: ${(error as Error).message}\n`);
          process.exitCode = EXIT_START_FAILED;
        }
      },
    );
}
