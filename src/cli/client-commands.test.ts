// `skein lease keepalive` as a user runs it: the real command against a real server.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { SkeinClient } from '../client/skein-client.ts';
import { startTestClient } from '../server/test-server.ts';

/** Start `skein <args>` and collect its output; `exited` resolves with its exit code. */
function startSkein(args: string[]): {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['bin/skein.mjs', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const renewals = (stdout: string): number =>
  stdout.split('\n').filter((l) => l.includes('"ttlSeconds"')).length;

describe('skein lease keepalive', () => {
  let stop: () => Promise<void>;
  let url: string;
  let client: SkeinClient;

  before(async () => {
    ({ stop, url, client } = await startTestClient());
  });
  after(async () => {
    await stop();
  });

  test('renews every TTL / 3 until interrupted, then exits 0 and leaves the lease alive', async () => {
    // The TTL outlasts the command's start-up, which takes seconds on a loaded machine with a cold
    // transpile cache: a 3 s lease expired before the first renewal in CI.
    const lease = await client.grantLease(6);
    const run = startSkein(['lease', 'keepalive', String(lease.id), '--endpoints', url, '--json']);
    try {
      // The first renewal at once, then one every 2 s: three lines take about four seconds.
      await until('three renewals', () => renewals(run.stdout()) >= 3, 40_000).catch((error: unknown) => {
        throw new Error(`${String(error)}; stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
      });
    } finally {
      run.child.kill('SIGINT');
    }
    assert.equal(await run.exited, 0, run.stderr());
    assert.deepEqual(JSON.parse(run.stdout().split('\n')[0]!), { id: lease.id, ttlSeconds: 6 });
    assert.notEqual(await client.leaseTimeToLive(lease.id), null);
    await client.revokeLease(lease.id);
  });

  test('exits with SKEIN_LEASE_NOT_FOUND once the lease is gone', async () => {
    const lease = await client.grantLease(6);
    const run = startSkein(['lease', 'keepalive', String(lease.id), '--endpoints', url, '--json']);
    try {
      await until('the first renewal', () => renewals(run.stdout()) >= 1, 40_000);
      await client.revokeLease(lease.id);
      assert.equal(await run.exited, 1, run.stderr());
    } finally {
      run.child.kill('SIGKILL');
    }
    assert.match(run.stderr(), /^skein: SKEIN_LEASE_NOT_FOUND: /);
  });
});
