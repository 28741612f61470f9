import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { KvStateMachine } from '../src/cli/kv-state-machine.ts';
import { parseRaftNodeFlags, type RaftNodeFlags } from '../src/cli/raft-flags.ts';
import { SkeinError } from '../src/core/errors.ts';

const SECRET = 'cli-test-secret-0123456789abcdef';
const env = { SKEIN_CLUSTER_SECRET: SECRET };

function configError(flags: RaftNodeFlags, pattern: RegExp, environment: NodeJS.ProcessEnv = env): void {
  assert.throws(
    () => parseRaftNodeFlags(flags, environment),
    (error: unknown) =>
      error instanceof SkeinError && error.code === 'SKEIN_INVALID_CONFIG' && pattern.test(error.message),
  );
}

test('raft-node flags are validated with SKEIN_INVALID_CONFIG naming the flag', () => {
  const ok = { id: 'a', listen: '127.0.0.1:7001' };
  configError({}, /--id is required/);
  configError({ id: 'has space', listen: '127.0.0.1:1' }, /--id "has space"/);
  configError({ id: 'a' }, /--listen is required/);
  configError({ id: 'a', listen: 'nowhere' }, /--listen "nowhere" is not host:port/);
  configError({ ...ok, peers: 'b' }, /--peers item "b" is not id=host:port/);
  configError({ ...ok, peers: 'b=127.0.0.1:99999' }, /--peers address of b/);
  configError({ ...ok, peers: 'b=127.0.0.1:1,b=127.0.0.1:2' }, /lists b twice/);
  configError(ok, /no cluster secret/, {});
  configError(ok, /at least 16 bytes/, { SKEIN_CLUSTER_SECRET: 'short' });
  configError({ ...ok, clusterSecretFile: '/nonexistent/secret' }, /cannot be read/);
  configError({ ...ok, tickMs: '0' }, /--tick-ms must be an integer in 1\.\.60000/);
  configError({ ...ok, electionTicks: '1.5' }, /--election-ticks/);
  configError({ ...ok, logLevel: 'loud' }, /log level "loud"/);

  const config = parseRaftNodeFlags(
    { ...ok, peers: 'b=127.0.0.1:7002, c=127.0.0.1:7003', tickMs: '20' },
    env,
  );
  assert.deepEqual(config.peers, { a: '127.0.0.1:7001', b: '127.0.0.1:7002', c: '127.0.0.1:7003' });
  assert.equal(config.tickIntervalMs, 20);
  assert.equal(config.electionTicks, 10);
  assert.equal(config.clusterSecret, SECRET);
  assert.deepEqual(parseRaftNodeFlags(ok, env).peers, {}, 'no --peers: start detached');

  const dir = mkdtempSync(join(tmpdir(), 'skein-cli-'));
  try {
    writeFileSync(join(dir, 'secret'), `${SECRET}-from-file\n`);
    const fromFile = parseRaftNodeFlags({ ...ok, clusterSecretFile: join(dir, 'secret') }, {});
    assert.equal(fromFile.clusterSecret, `${SECRET}-from-file`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the kv state machine: set/get/cas/del, bounded, validated, with an order-sensitive digest', () => {
  const kv = new KvStateMachine({ maxKeys: 2 });
  const p = kv.processors();
  assert.equal(p['set']!({ key: 'x', value: 1 }), null);
  assert.equal(p['set']!({ key: 'x', value: 2 }), 1);
  assert.equal(p['get']!({ key: 'x' }), 2);
  assert.equal(p['cas']!({ key: 'x', expected: 1, value: 3 }), false);
  assert.equal(p['cas']!({ key: 'x', expected: 2, value: 3 }), true);
  assert.equal(p['cas']!({ key: 'y', expected: null, value: { a: 1 } }), true);
  assert.equal(p['cas']!({ key: 'y', expected: { a: 1 }, value: 'z' }), true);
  assert.throws(() => p['set']!({ key: 'third', value: 0 }), { code: 'SKEIN_KV_FULL' });
  assert.throws(() => p['set']!({ key: '', value: 0 }), { code: 'SKEIN_INVALID_ARGUMENT' });
  assert.throws(() => p['del']!(null), { code: 'SKEIN_INVALID_ARGUMENT' });
  assert.equal(p['del']!({ key: 'x' }), true);
  assert.equal(p['del']!({ key: 'x' }), false);
  assert.equal(kv.get('y'), 'z');
  assert.equal(kv.summary().keys, 1);

  const inOrder = (keys: string[]): number => {
    const machine = new KvStateMachine();
    const procs = machine.processors();
    for (const key of keys) procs['set']!({ key, value: 1 });
    return machine.summary().digest;
  };
  assert.equal(inOrder(['k1', 'k2']), inOrder(['k1', 'k2']));
  assert.notEqual(inOrder(['k1', 'k2']), inOrder(['k2', 'k1']), 'another order gives another digest');
});

test('a kv snapshot restores the map, the applied count and the digest', async () => {
  const source = new KvStateMachine();
  const procs = source.processors();
  procs['set']!({ key: 'a', value: 1 });
  procs['set']!({ key: 'b', value: new Uint8Array([1, 2, 3]) });
  const bytes = source.snapshot();
  procs['set']!({ key: 'c', value: 'after the snapshot' });
  const copy = new KvStateMachine();
  copy.processors()['set']!({ key: 'stale', value: true });
  await copy.restore(Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]));
  assert.equal(copy.get('a'), 1);
  assert.deepEqual([...(copy.get('b') as Uint8Array)], [1, 2, 3]);
  assert.equal(copy.get('stale'), null);
  assert.equal(copy.get('c'), null);
  assert.equal(copy.summary().applied, 2);
  copy.processors()['set']!({ key: 'c', value: 'after the snapshot' });
  assert.deepEqual(copy.summary(), source.summary(), 'same history, same digest');
});

function runCli(
  args: string[],
  environment: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/skein.mjs', ...args], {
      env: { ...process.env, ...environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => {
      resolve({ code, out });
    });
  });
}

test('skein raft-node exits 2 with a stable code on a bad flag', async () => {
  const { code, out } = await runCli(['raft-node', '--id', 'a', '--listen', 'bad'], env);
  assert.equal(code, 2);
  assert.match(out, /SKEIN_INVALID_CONFIG: --listen "bad"/);
});

test('skein start runs a single-node cluster that leads at once and stops on SIGTERM', async () => {
  const child = spawn(process.execPath, ['bin/skein.mjs', 'start', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const closed = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      resolve(code);
    }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`not ready in 20 s:\n${out}`));
      }, 20_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('single-node cluster ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const ready = JSON.parse(out.split('\n').find((l) => l.includes('single-node cluster ready'))!);
    assert.equal(ready.role, 'leader');
    assert.deepEqual(ready.voters, ['n1']);
    assert.equal(ready.storage, 'memory');
    child.kill('SIGTERM');
    assert.equal(await closed, 0);
    assert.match(out, /"msg":"stopped"/);
  } finally {
    child.kill('SIGKILL');
  }
});
