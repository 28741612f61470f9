import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { SkeinClient } from '../client/skein-client.ts';
import { startTestClient } from '../server/test-server.ts';

const run = promisify(execFile);

/** Runs the real `skein` command; resolves with its exit code and output. */
async function skein(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/skein.mjs', ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('skein group list | show', () => {
  let stop: () => Promise<void>;
  let url: string;
  let client: SkeinClient;

  before(async () => {
    ({ stop, url, client } = await startTestClient());
    const lease = await client.grantLease(60);
    await client.joinGroupMember({ group: 'workers', member: 'w1', session: lease.id, settleMs: 0 });
    await client.joinGroupMember({
      group: 'workers',
      member: 'w2',
      session: lease.id,
      metadata: { addr: '10.0.0.2:80' },
    });
    for (let i = 0; i < 200 && (await client.getGroup('workers'))?.state !== 'SETTLED'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
  after(async () => {
    await stop();
  });

  test('show prints members in join order with index/total; --json gives the view', async () => {
    const human = await skein(['group', 'show', 'workers', '--endpoints', url]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^workers: SETTLED, generation \d+, 2 members, sticky, settle 0 ms/);
    assert.match(human.stdout, /1\/2\tw1\tsession \d+\n {2}2\/2\tw2\tsession \d+\taddr=10\.0\.0\.2:80/);
    const json = await skein(['group', 'show', 'workers', '--endpoints', url, '--json']);
    const view = (JSON.parse(json.stdout) as { group: { members: { id: string; index: number }[] } }).group;
    assert.deepEqual(
      view.members.map((m) => [m.id, m.index]),
      [
        ['w1', 1],
        ['w2', 2],
      ],
    );
  });

  test('list prints every group; a missing group exits 1; a dead endpoint fails with a code', async () => {
    const list = await skein(['group', 'list', '--endpoints', url, '--json']);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { groups: { name: string; size: number }[] }).groups.map((g) => [
        g.name,
        g.size,
      ]),
      [['workers', 2]],
    );
    const missing = await skein(['group', 'show', 'nope', '--endpoints', url]);
    assert.deepEqual([missing.code, missing.stdout.trim()], [1, 'group nope has no members']);
    const dead = await skein(['group', 'list', '--endpoints', 'http://127.0.0.1:1']);
    assert.notEqual(dead.code, 0);
    assert.match(dead.stderr, /^skein: SKEIN_UNAVAILABLE: /);
  });
});
