import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveBlocConfig } from './config.ts';
import { indexBody, routeOf, sessionIdOf } from './protocol.ts';

test('skein bloc defaults: bloc README example (-t 4 -s 6), loopback :8989, embedded coordinator', () => {
  const config = resolveBlocConfig({});
  assert.equal(config.timeoutSeconds, 4);
  assert.equal(config.settleMs, 6000);
  assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8989 });
  assert.equal(config.group, 'bloc');
  assert.equal(config.endpoints, null);
  assert.equal(config.dataDir, './skein-bloc-data');
  assert.equal(config.authToken, undefined);
});

test('skein bloc takes fractional seconds and a cluster', () => {
  const config = resolveBlocConfig({
    timeout: '2.5',
    settle: '0.35',
    listen: '0.0.0.0:9000',
    endpoints: 'http://127.0.0.1:8420, http://127.0.0.1:8430',
  });
  assert.equal(config.timeoutSeconds, 2.5);
  assert.equal(config.settleMs, 350);
  assert.deepEqual(config.listen, { host: '0.0.0.0', port: 9000 });
  assert.deepEqual(config.endpoints, ['http://127.0.0.1:8420', 'http://127.0.0.1:8430']);
  assert.equal(resolveBlocConfig({ settle: '0' }).settleMs, 0);
});

test('skein bloc refuses bad flags with SKEIN_INVALID_CONFIG and says what to do', () => {
  const bad: [Parameters<typeof resolveBlocConfig>[0], RegExp][] = [
    [{ timeout: '0' }, /--timeout must be a number of seconds, more than 0/],
    [{ timeout: '-1' }, /--timeout/],
    [{ timeout: 'four' }, /--timeout .*such as 4 or 0\.5 \(got "four"\)/],
    [{ timeout: '3601' }, /at most 3600/],
    [{ settle: '1e3' }, /--settle/],
    [{ listen: '8989' }, /--listen "8989" is not host:port/],
    [{ group: '' }, /--group/],
    [{ endpoints: 'ftp://x' }, /--endpoints item "ftp:\/\/x"/],
    [{ endpoints: ',' }, /--endpoints must list client URLs/],
    [{ endpoints: 'http://127.0.0.1:1', listenClient: '127.0.0.1:0' }, /drop them when using --endpoints/],
    [{ maxSessions: '0' }, /--max-sessions must be an integer in 1\.\./],
    [{ logLevel: 'loud' }, /--log-level "loud"/],
    [{ authTokenFile: '/nonexistent/token' }, /--auth-token-file \/nonexistent\/token cannot be read/],
  ];
  for (const [flags, message] of bad) {
    assert.throws(
      () => resolveBlocConfig(flags),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'SKEIN_INVALID_CONFIG');
        assert.match(error.message, message);
        return true;
      },
      JSON.stringify(flags),
    );
  }
});

test('skein bloc reads the auth token file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-bloc-token-'));
  try {
    writeFileSync(join(dir, 'token'), 's3cret\n');
    writeFileSync(join(dir, 'empty'), '\n');
    assert.equal(resolveBlocConfig({ authTokenFile: join(dir, 'token') }).authToken, 's3cret');
    assert.throws(() => resolveBlocConfig({ authTokenFile: join(dir, 'empty') }), /holds an empty token/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('protocol: exact bodies, exact routes, first header value', () => {
  assert.equal(indexBody({ index: null, total: null }), '{"status": "SETTLING"}');
  assert.equal(indexBody({ index: 2, total: 10 }), '{"status": "SETTLED", "index": 2, "total": 10}');
  assert.equal(routeOf('/index'), '/index');
  assert.equal(routeOf('/index?a=b'), '/index');
  assert.equal(routeOf('/session'), '/session');
  for (const path of ['/index/', '/Index', '//index', '/session/x', '/', '*'])
    assert.equal(routeOf(path), null);
  assert.deepEqual(sessionIdOf(['a', 'b']), { ok: true, id: 'a' });
  assert.equal(sessionIdOf(undefined).ok, false);
  assert.equal(sessionIdOf(['']).ok, false);
  assert.equal(sessionIdOf(['x'.repeat(257)]).ok, false);
});
