import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { blocRequest, getIndex, heartbeatUntil, settled, SETTLING } from './test-http.ts';

const BIN = fileURLToPath(new URL('../../bin/skein.mjs', import.meta.url));
const PYTHON_CLIENT = fileURLToPath(new URL('./bloc-client.py', import.meta.url));
const hasPython = spawnSync('python3', ['--version']).status === 0;

function collect(child: ChildProcess): { text: () => string; closed: Promise<number | null> } {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { text: () => out, closed };
}

function skein(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

test('skein bloc exits 2 with SKEIN_INVALID_CONFIG on a bad flag', async () => {
  // One spawn; config.test.ts covers every flag.
  const run = collect(skein(['bloc', '--timeout', '0']));
  assert.equal(await run.closed, 2, run.text());
  assert.match(run.text(), /SKEIN_INVALID_CONFIG: --timeout must be a number of seconds, more than 0/);
});

/** Resolves with the endpoint URL once `skein bloc` logs that it is ready. */
function readyUrl(run: { text: () => string; closed: Promise<number | null> }): Promise<string> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 30_000;
    const poll = (): void => {
      const line = run
        .text()
        .split('\n')
        .find((l) => l.includes('"bloc endpoint ready"'));
      if (line !== undefined) resolve((JSON.parse(line) as { url: string }).url);
      else if (Date.now() > deadline) reject(new Error(`not ready in 30 s:\n${run.text()}`));
      else setTimeout(poll, 50);
    };
    poll();
    void run.closed.then((code) => {
      reject(new Error(`exited with ${code}:\n${run.text()}`));
    });
  });
}

/** Runs bloc-client.py (a stand-in for bloc's own client) until it saw `total` members settled. */
function pythonClient(server: string, session: string, total: number): Promise<unknown[]> {
  const child = spawn('python3', [PYTHON_CLIENT, server, session, '0.1', String(total), '3', '15'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = collect(child);
  return run.closed.then((code) => {
    assert.equal(code, 0, `python client ${session}:\n${run.text()}`);
    return run
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
  });
}

test('skein bloc with an embedded coordinator serves bloc clients, stops on SIGTERM, restarts with its group', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'skein-bloc-'));
  const args = [
    'bloc',
    '--timeout',
    '3',
    '--settle',
    '0.3',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
  ];
  let child = skein(args);
  let run = collect(child);
  try {
    let url = await readyUrl(run);
    assert.equal(await getIndex(url, 'one'), SETTLING);
    assert.deepEqual(
      await heartbeatUntil(url, ['one', 'two'], (b) => b.every((x) => x.includes('SETTLED"'))),
      [settled(1, 2), settled(2, 2)],
    );
    assert.equal((await blocRequest(url, 'DELETE', '/session', 'one')).body, '{}');

    if (hasPython) {
      // "two" keeps heartbeating meanwhile, as a live bloc client would.
      const keeper = setInterval(() => void getIndex(url, 'two').catch(() => undefined), 300);
      const { host } = new URL(url);
      const outputs = await Promise.all(
        ['py-a', 'py-b', 'py-c'].map((s) => pythonClient(host, s, 4)),
      ).finally(() => {
        clearInterval(keeper);
      });
      const finals = outputs.map((lines) => (lines.at(-1) as { final: [number, number] }).final);
      assert.deepEqual(
        finals.map(([index]) => index).sort(),
        [2, 3, 4],
        'three bloc clients join behind "two": three distinct indexes',
      );
      assert.ok(finals.every(([, total]) => total === 4));
      for (const lines of outputs) {
        assert.deepEqual(lines[0], { index_total: null }, 'each starts unassigned (SETTLING)');
      }
    }
    assert.deepEqual(
      await heartbeatUntil(url, ['two', 'three'], (b) => b.every((x) => x.includes('SETTLED"'))),
      [settled(1, 2), settled(2, 2)],
    );
    child.kill('SIGTERM');
    assert.equal(await run.closed, 0, run.text());
    assert.match(run.text(), /"msg":"stopping"/);

    // The group is in the data directory: after a restart the same clients find the same indexes.
    child = skein(args);
    run = collect(child);
    url = await readyUrl(run);
    assert.deepEqual(
      [await getIndex(url, 'two'), await getIndex(url, 'three')],
      [settled(1, 2), settled(2, 2)],
    );
    child.kill('SIGTERM');
    assert.equal(await run.closed, 0, run.text());
  } finally {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
