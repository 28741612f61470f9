import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Agent, fetch as undiciFetch } from 'undici';
import { selfSignedCert } from '../../test/support/self-signed.ts';
import { connect } from '../client/skein-client.ts';
import {
  encodeRpcFrame,
  RPC_MAX_FRAME_HEADER,
  RPC_MAX_INFLIGHT_HEADER,
  RPC_PATHS_HEADER,
} from '../kv/rpc-protocol.ts';
import { FrameDecoder } from '../transport/frame-decoder.ts';
import { postJson, startTestServer } from './test-server.ts';

type Answer = [
  number,
  number,
  { error?: { code: string; message: string } } & Record<string, unknown>,
  string | null,
];

/** A raw RPC connection, to send frames the client never would. */
interface RawRpc {
  readonly headers: IncomingHttpHeaders;
  send(frame: Buffer): void;
  /** The next answer frame, or null once the member ended the connection. */
  next(): Promise<Answer | null>;
  close(): void;
}

/** Upgrade to the RPC channel; resolves with the refusal's status and body when not upgraded. */
function openRpc(
  baseUrl: string,
  headers: Record<string, string> = {},
): Promise<RawRpc | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}/v1/rpc`, {
      headers: { connection: 'Upgrade', upgrade: 'skein-rpc/1', ...headers },
    });
    req.on('upgrade', (response, socket: Socket, head) => {
      const answers: (Answer | null)[] = [];
      const waiters: ((a: Answer | null) => void)[] = [];
      const deliver = (a: Answer | null): void => {
        const waiter = waiters.shift();
        if (waiter !== undefined) waiter(a);
        else answers.push(a);
      };
      const decoder = new FrameDecoder(64 * 1024 * 1024);
      const onData = (chunk: Buffer): void => {
        decoder.feed(chunk, (payload) => {
          deliver(JSON.parse(payload.toString('utf8')) as Answer);
        });
      };
      if (head.length > 0) onData(head);
      socket.on('data', onData);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        deliver(null);
      });
      resolve({
        headers: response.headers,
        send: (frame) => socket.write(frame),
        next: () => {
          if (answers.length > 0) return Promise.resolve(answers.shift()!);
          if (socket.destroyed && socket.readableEnded) return Promise.resolve(null);
          return new Promise((r) => waiters.push(r));
        },
        close: () => socket.destroy(),
      });
    });
    req.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function openOk(baseUrl: string, headers: Record<string, string> = {}): Promise<RawRpc> {
  const rpc = await openRpc(baseUrl, headers);
  if (!('send' in rpc)) throw new Error(`upgrade refused: ${rpc.status} ${rpc.body}`);
  return rpc;
}

/** Wait until the member reports `count` open RPC connections (its sockets really closed). */
async function waitForConnections(baseUrl: string, count: number): Promise<void> {
  let last = '';
  for (let i = 0; i < 100; i++) {
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    last = /^skein_rpc_connections \d+$/m.exec(metrics)?.[0] ?? 'no gauge';
    if (last === `skein_rpc_connections ${count}`) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`expected skein_rpc_connections ${count} within 2 s, last saw ${last}`);
}

const request = (id: number, path: string, body: unknown): Buffer =>
  encodeRpcFrame(JSON.stringify([id, path, body]));

describe('the RPC channel', () => {
  test('answers every kv request exactly as HTTP does: status, body, error code', async () => {
    const { server, stop } = await startTestServer();
    const url = server.clientUrl;
    const rpc = await openOk(url);
    try {
      assert.equal(rpc.headers[RPC_MAX_FRAME_HEADER], String(1_572_864));
      assert.equal(rpc.headers[RPC_MAX_INFLIGHT_HEADER], '4096');
      assert.deepEqual(String(rpc.headers[RPC_PATHS_HEADER]).split(','), [
        '/v1/kv/put',
        '/v1/kv/range',
        '/v1/kv/delete',
        '/v1/kv/txn',
        '/v1/kv/compact',
      ]);
      let id = 0;
      const both = async (
        path: string,
        body: unknown,
      ): Promise<[Answer, Awaited<ReturnType<typeof postJson>>]> => {
        rpc.send(request(++id, path, body));
        const viaRpc = await rpc.next();
        assert.ok(viaRpc !== null, 'connection closed');
        assert.equal(viaRpc[0], id);
        assert.equal(viaRpc[3], null, 'a leader has no leader hint');
        return [viaRpc, await postJson(`${url}${path}`, body)];
      };
      // Writes: each side makes its own revision, so compare shapes and the revision step.
      await postJson(`${url}/v1/kv/put`, { key: 'a', value: '0' });
      const [put, httpPut] = await both('/v1/kv/put', { key: 'a', value: '1', prevKv: true });
      assert.equal(put[1], 200);
      assert.equal(httpPut.body['revision'], (put[2]['revision'] as number) + 1);
      assert.deepEqual(Object.keys(put[2]).sort(), Object.keys(httpPut.body).sort());
      // Reads and refusals: identical.
      const cases: [string, unknown][] = [
        ['/v1/kv/range', { key: 'a' }],
        ['/v1/kv/range', { key: '', rangeEnd: '\u0000', countOnly: true }],
        ['/v1/kv/range', { key: 'a', revision: 10_000 }],
        ['/v1/kv/range', { key: 'a', serializable: true }],
        [
          '/v1/kv/txn',
          {
            compare: [{ key: 'a', target: 'version', op: '>', value: 100 }],
            success: [],
            failure: [{ range: { key: 'a' } }],
          },
        ],
        ['/v1/kv/put', { key: 'a' }],
        ['/v1/kv/put', { key: 'a', value: 1 }],
        ['/v1/kv/put', { key: 'a', value: '1', extra: true }],
        ['/v1/kv/put', { key: '', value: '1' }],
        ['/v1/kv/put', { key: 'x'.repeat(20_000), value: '1' }],
        ['/v1/kv/put', { key: 'a', value: '1', lease: 424242 }],
        ['/v1/kv/delete', { key: 'a', prefix: 'yes' }],
        ['/v1/kv/compact', { revision: 1_000_000 }],
        ['/v1/kv/range', []],
        ['/v1/kv/range', null],
      ];
      for (const [path, body] of cases) {
        const [viaRpc, viaHttp] = await both(path, body);
        const what = `${path} ${JSON.stringify(body).slice(0, 80)}`;
        assert.equal(viaRpc[1], viaHttp.status, what);
        if (viaHttp.status === 200) assert.deepEqual(viaRpc[2], viaHttp.body, what);
        else {
          assert.equal(viaRpc[2].error?.code, viaHttp.body.error?.code, what);
          assert.ok((viaRpc[2].error?.message.length ?? 0) > 10, what);
        }
      }
      rpc.send(request(++id, '/v1/lease/grant', { ttlSeconds: 5 }));
      const notCarried = await rpc.next();
      assert.equal(notCarried?.[1], 404);
      assert.equal(notCarried[2].error?.code, 'SKEIN_NOT_FOUND');
    } finally {
      rpc.close();
      await stop();
    }
  });

  test('answers requests in flight out of order, matched by id, and counts its connections', async () => {
    const { server, stop } = await startTestServer();
    const rpc = await openOk(server.clientUrl);
    try {
      // A linearizable read that waits behind writes, and writes pipelined on one connection.
      for (let i = 1; i <= 50; i++)
        rpc.send(request(i * 7, '/v1/kv/put', { key: `k${i}`, value: String(i) }));
      const seen = new Set<number>();
      for (let i = 1; i <= 50; i++) {
        const answer = await rpc.next();
        assert.equal(answer?.[1], 200);
        seen.add(answer[0]);
      }
      assert.equal(seen.size, 50);
      assert.ok([...seen].every((id) => id % 7 === 0));
      const metrics = await (await fetch(`${server.clientUrl}/metrics`)).text();
      assert.match(metrics, /^skein_rpc_connections 1$/m);
      assert.match(metrics, /skein_http_requests_total\{route="\/v1\/kv\/put",status="200"\} 50/);
      rpc.close();
      await waitForConnections(server.clientUrl, 0);
    } finally {
      rpc.close();
      await stop();
    }
  });

  test('a frame it cannot read gets an answer with id 0 and ends the connection; the member serves on', async () => {
    const { server, stop } = await startTestServer({ maxRequestBytes: '4096' });
    const url = server.clientUrl;
    try {
      const lengthOnly = (n: number): Buffer => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(n);
        return b;
      };
      const garbage: [Buffer, number, string][] = [
        [encodeRpcFrame('not json'), 400, 'SKEIN_INVALID_ARGUMENT'],
        [encodeRpcFrame('{"id":1}'), 400, 'SKEIN_INVALID_ARGUMENT'],
        [encodeRpcFrame('[0,"/v1/kv/put",{}]'), 400, 'SKEIN_INVALID_ARGUMENT'],
        [encodeRpcFrame('[1.5,"/v1/kv/put",{}]'), 400, 'SKEIN_INVALID_ARGUMENT'],
        [lengthOnly(0), 400, 'SKEIN_BAD_FRAME'],
        [lengthOnly(5000), 413, 'SKEIN_BODY_TOO_LARGE'],
      ];
      for (const [frame, status, code] of garbage) {
        const rpc = await openOk(url);
        // A good request first: its answer is still written before the connection ends.
        rpc.send(request(1, '/v1/kv/put', { key: 'before', value: 'x' }));
        rpc.send(frame);
        const answers = [await rpc.next(), await rpc.next()];
        const protocolError = answers.find((a) => a?.[0] === 0);
        assert.equal(protocolError?.[1], status, frame.toString('latin1'));
        assert.equal(protocolError[2].error?.code, code);
        assert.equal(answers.find((a) => a?.[0] === 1)?.[1], 200);
        assert.equal(await rpc.next(), null, 'the connection ends');
      }
      const client = await connect({ endpoints: url });
      await client.put({ key: 'after', value: 'y' });
      assert.equal((await client.get('after'))?.value, 'y');
      await client.close();
    } finally {
      await stop();
    }
  });

  test('fuzzing: random bodies on every path get 200 or a clear 4xx, and no data is lost', async () => {
    const { server, stop } = await startTestServer({ autoCompactionRevisions: '0' });
    const client = await connect({ endpoints: server.clientUrl });
    const rpc = await openOk(server.clientUrl);
    try {
      await client.put({ key: 'sentinel', value: 'kept' });
      const sentinel = await client.get('sentinel');
      let id = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(
            '/v1/kv/put',
            '/v1/kv/range',
            '/v1/kv/delete',
            '/v1/kv/txn',
            '/v1/kv/compact',
            '/v1/nope',
          ),
          fc.anything(),
          async (path, body) => {
            const text = JSON.stringify(body) as string | undefined;
            if (
              text?.includes('sentinel') === true ||
              path === '/v1/kv/delete' ||
              path === '/v1/kv/compact'
            ) {
              // Keep the sentinel: a random delete or compaction could legitimately remove it.
              if (text === undefined || /sentinel|"key":""|revision/.test(text)) return;
            }
            rpc.send(request(++id, path, body ?? null));
            const answer = await rpc.next();
            assert.ok(answer !== null, 'the connection ended');
            assert.equal(answer[0], id);
            if (answer[1] === 200) return;
            assert.ok(answer[1] >= 400 && answer[1] < 500, `${path} ${text ?? ''} → ${answer[1]}`);
            assert.match(answer[2].error?.code ?? '', /^SKEIN_[A-Z_]+$/);
          },
        ),
        { numRuns: 300, seed: Number(process.env['SKEIN_SEED'] ?? 7) },
      );
      const after = await client.get('sentinel');
      assert.equal(after?.value, 'kept');
      assert.equal(after.modRevision, sentinel?.modRevision);
    } finally {
      rpc.close();
      await client.close();
      await stop();
    }
  });

  test('with an auth token, an upgrade without it gets 401 and the client with it uses the channel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-rpc-token-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'rpc-token\n');
    const { server, stop } = await startTestServer({ authTokenFile: tokenFile });
    try {
      for (const headers of [{}, { authorization: 'Bearer wrong' }]) {
        const refused = await openRpc(server.clientUrl, headers);
        assert.ok(!('send' in refused));
        assert.equal(refused.status, 401);
        assert.equal(
          (JSON.parse(refused.body) as { error: { code: string } }).error.code,
          'SKEIN_UNAUTHORIZED',
        );
      }
      const client = await connect({ endpoints: server.clientUrl, token: 'rpc-token' });
      await client.put({ key: 'a', value: '1' });
      const metrics = await (
        await fetch(`${server.clientUrl}/metrics`, { headers: { authorization: 'Bearer rpc-token' } })
      ).text();
      assert.match(metrics, /^skein_rpc_connections 1$/m);
      await client.close();
    } finally {
      await stop();
    }
  });

  test('a member that stops answers the requests in flight, refuses new ones with 503, then ends the channel', async () => {
    const { server, stop } = await startTestServer();
    const rpc = await openOk(server.clientUrl);
    rpc.send(request(1, '/v1/kv/put', { key: 'a', value: '1' }));
    assert.equal((await rpc.next())?.[1], 200);
    const stopping = stop();
    assert.equal(await rpc.next(), null, 'the member ended the connection');
    await stopping;
  });
});

test('a script that never closes its client still exits: an idle RPC channel does not hold the event loop', async () => {
  const { server, stop } = await startTestServer();
  const dir = mkdtempSync(join(tmpdir(), 'skein-rpc-exit-'));
  const script = join(dir, 'put-and-leave.mts');
  const clientModule = new URL('../client/skein-client.ts', import.meta.url).href;
  writeFileSync(
    script,
    `import { connect } from ${JSON.stringify(clientModule)};\n` +
      `const client = await connect({ endpoints: ${JSON.stringify(server.clientUrl)} });\n` +
      `await client.put({ key: 'left', value: 'open' });\n`,
  );
  try {
    const child = spawn(process.execPath, ['--conditions=skein-source', '--import', 'tsx', script], {
      stdio: 'inherit',
      cwd: fileURLToPath(new URL('../..', import.meta.url)), // where tsx resolves
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(-1);
      }, 20_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    assert.equal(code, 0, 'the script did not exit by itself within 20 s');
    // The member closes its end once the exited client's end is gone (no half-open leftovers).
    await waitForConnections(server.clientUrl, 0);
    const metrics = await (await fetch(`${server.clientUrl}/metrics`)).text();
    assert.match(metrics, /skein_http_requests_total\{route="\/v1\/kv\/put",status="200"\} 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await stop();
  }
});

test('over TLS (https:// members): the client puts and reads over the RPC channel, with a private CA', async (t) => {
  const made = selfSignedCert();
  if ('unavailable' in made) {
    t.skip(`${made.unavailable}; TLS not tested`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'skein-rpc-tls-'));
  writeFileSync(join(dir, 'cert.pem'), made.cert);
  writeFileSync(join(dir, 'key.pem'), made.key);
  const { server, stop } = await startTestServer({
    tlsCertFile: join(dir, 'cert.pem'),
    tlsKeyFile: join(dir, 'key.pem'),
  });
  const dispatcher = new Agent({ connect: { ca: made.cert } });
  try {
    assert.match(server.clientUrl, /^https:\/\//);
    const client = await connect({ endpoints: server.clientUrl, tls: { ca: made.cert } });
    await client.put({ key: 'secure', value: 'yes' });
    assert.equal((await client.get('secure'))?.value, 'yes');
    const metrics = await (await undiciFetch(`${server.clientUrl}/metrics`, { dispatcher })).text();
    assert.match(metrics, /^skein_rpc_connections 1$/m, 'the kv requests went over the channel');
    await client.close();
    // Without the CA the upgrade, like any request, fails: the certificate is not trusted.
    const untrusting = await connect({ endpoints: server.clientUrl, requestTimeoutMs: 2000 });
    await assert.rejects(untrusting.put({ key: 'secure', value: 'no' }), /SKEIN_UNAVAILABLE|certificate/);
    await untrusting.close();
  } finally {
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
    await stop();
  }
});
