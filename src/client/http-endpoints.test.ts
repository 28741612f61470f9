import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import { Endpoints, NotSentError } from './http-endpoints.ts';

test('a skein-leader header moves the preferred member; one that is not an http(s) URL is ignored', async () => {
  let leaderHeader = '';
  const server = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    if (leaderHeader !== '') response.setHeader('skein-leader', leaderHeader);
    response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const here = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const endpoints = new Endpoints({
    endpoints: [here],
    token: undefined,
    connectionsPerEndpoint: 1,
    requestTimeoutMs: 5000,
    rpc: true,
  });
  try {
    for (const bad of ['ftp://127.0.0.1:1', 'not a url']) {
      leaderHeader = bad;
      assert.equal((await endpoints.send(here, 'GET', '/v1/status', undefined)).status, 200);
      assert.equal(endpoints.preferred, here, `"${bad}" was followed`);
    }
    leaderHeader = 'http://127.0.0.1:1';
    await endpoints.send(here, 'GET', '/v1/status', undefined);
    assert.equal(endpoints.preferred, 'http://127.0.0.1:1');
    assert.deepEqual(endpoints.urls, [here, 'http://127.0.0.1:1']);
  } finally {
    await endpoints.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** An HTTP server whose 'upgrade' listener is `onUpgrade` (none: node answers upgrades as requests). */
async function fakeMember(
  onUpgrade?: (socket: Socket) => void,
): Promise<{ url: string; requests: string[]; upgrades: () => number; close: () => Promise<void> }> {
  const requests: string[] = [];
  let upgrades = 0;
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    requests.push(`${request.method ?? ''} ${request.url ?? ''} ${request.headers.upgrade ?? ''}`);
    response.setHeader('content-type', 'application/json');
    response.end('{"revision":7}');
  });
  if (onUpgrade !== undefined) {
    server.on('upgrade', (_request, socket: Socket) => {
      upgrades++;
      sockets.add(socket);
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: skein-rpc/1\r\nConnection: Upgrade\r\n' +
          'skein-rpc-max-frame-bytes: 100000\r\nskein-rpc-max-inflight: 10\r\nskein-rpc-paths: /v1/kv/put\r\n\r\n',
      );
      onUpgrade(socket);
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    upgrades: () => upgrades,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function endpointsFor(url: string, requestTimeoutMs = 5000): Endpoints {
  return new Endpoints({
    endpoints: [url],
    token: undefined,
    connectionsPerEndpoint: 1,
    requestTimeoutMs,
    rpc: true,
  });
}

test('a member that does not offer the RPC channel gets the request over HTTP, and is not asked again at once', async () => {
  const member = await fakeMember();
  const endpoints = endpointsFor(member.url);
  try {
    for (let i = 0; i < 3; i++) {
      const answer = await endpoints.send(member.url, 'POST', '/v1/kv/put', { key: 'a', value: 'b' });
      assert.deepEqual(answer, { status: 200, body: { revision: 7 } });
    }
    // One refused upgrade (node answers it as a plain request), then three plain POSTs.
    assert.deepEqual(member.requests, [
      'GET /v1/rpc skein-rpc/1',
      'POST /v1/kv/put ',
      'POST /v1/kv/put ',
      'POST /v1/kv/put ',
    ]);
  } finally {
    await endpoints.close();
    await member.close();
  }
});

test('over the RPC channel: no answer in time is SKEIN_UNAVAILABLE, and so is a lost connection; the next request reconnects', async () => {
  let drop = false;
  const member = await fakeMember((socket) => {
    socket.on('data', () => {
      if (drop) socket.destroy(); // else: never answer
    });
  });
  const endpoints = endpointsFor(member.url, 300);
  try {
    const started = Date.now();
    await assert.rejects(
      endpoints.send(member.url, 'POST', '/v1/kv/put', { key: 'a', value: 'b' }),
      (error: Error) => {
        assert.equal((error as { code?: string }).code, 'SKEIN_UNAVAILABLE');
        assert.match(error.message, /within 300 ms; the request may or may not have been applied/);
        assert.ok(!(error instanceof NotSentError));
        return true;
      },
    );
    assert.ok(Date.now() - started < 2000, 'the timeout is the request timeout');
    drop = true;
    await assert.rejects(
      endpoints.send(member.url, 'POST', '/v1/kv/put', { key: 'a', value: 'b' }),
      (error: Error) => {
        assert.equal((error as { code?: string }).code, 'SKEIN_UNAVAILABLE');
        assert.match(error.message, /lost the connection .* may or may not have been applied/);
        return true;
      },
    );
    await assert.rejects(
      endpoints.send(member.url, 'POST', '/v1/kv/put', { key: 'a', value: 'b' }),
      /lost the connection/,
    );
    assert.equal(member.upgrades(), 2, 'a new connection after the lost one');
    assert.deepEqual(member.requests, [], 'nothing went over HTTP');
  } finally {
    await endpoints.close();
    await member.close();
  }
});

test('a member that cannot be reached is NotSentError (safe to retry), over the RPC channel as over HTTP', async () => {
  const member = await fakeMember();
  const url = member.url;
  await member.close();
  const endpoints = endpointsFor(url);
  try {
    await assert.rejects(endpoints.send(url, 'POST', '/v1/kv/put', { key: 'a', value: 'b' }), NotSentError);
  } finally {
    await endpoints.close();
  }
});

test("past the member's in-flight limit on the RPC channel, requests go over HTTP instead of being refused", async () => {
  const member = await fakeMember(() => undefined); // upgrades, limit 10, never answers
  const endpoints = endpointsFor(member.url, 500);
  try {
    const sends = Array.from({ length: 12 }, () =>
      endpoints.send(member.url, 'POST', '/v1/kv/put', { key: 'a', value: 'b' }).then(
        (answer) => answer.status,
        (error: unknown) => (error as { code?: string }).code,
      ),
    );
    const outcomes = await Promise.all(sends);
    assert.equal(
      outcomes.filter((o) => o === 'SKEIN_UNAVAILABLE').length,
      10,
      'the ten on the channel time out',
    );
    assert.equal(
      outcomes.filter((o) => o === 200).length,
      2,
      'the two over the limit are answered over HTTP',
    );
    assert.equal(member.requests.length, 2);
  } finally {
    await endpoints.close();
    await member.close();
  }
});

test('requests the channel does not carry go straight to HTTP and open no channel', async () => {
  const member = await fakeMember(() => undefined);
  const endpoints = endpointsFor(member.url);
  try {
    const answer = await endpoints.send(member.url, 'POST', '/v1/lease/grant', { ttlSeconds: 5 });
    assert.equal(answer.status, 200);
    assert.equal(member.upgrades(), 0);
    assert.deepEqual(member.requests, ['POST /v1/lease/grant ']);
  } finally {
    await endpoints.close();
    await member.close();
  }
});

/** Endpoints over plain HTTP, one connection each. */
function plainEndpoints(urls: string[]): Endpoints {
  return new Endpoints({
    endpoints: urls,
    token: undefined,
    connectionsPerEndpoint: 1,
    requestTimeoutMs: 5000,
    rpc: false,
  });
}

test('rotate passes over members marked unresponsive, unless every other one is; a leader hint naming one is not followed', async () => {
  const [a, b, c] = ['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3'];
  const endpoints = plainEndpoints([a, b, c]);
  try {
    endpoints.markUnresponsive(b, 60_000);
    endpoints.rotate(a);
    assert.equal(endpoints.preferred, c, 'b was marked');
    endpoints.rotate(c);
    assert.equal(endpoints.preferred, a);
    endpoints.markUnresponsive(c, 60_000);
    endpoints.markUnresponsive(a, 60_000);
    endpoints.rotate(a);
    assert.equal(endpoints.preferred, b, 'all marked: plain round robin');
    endpoints.markUnresponsive(a, 0); // the mark has run out
    endpoints.rotate(b);
    assert.equal(endpoints.preferred, a);
  } finally {
    await endpoints.close();
  }

  // A follower that has not heard of an election names the leader that stopped answering.
  const stale = 'http://127.0.0.1:4';
  const server = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.setHeader('skein-leader', stale);
    response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const follower = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const hinted = plainEndpoints([follower, stale]);
  try {
    hinted.markUnresponsive(stale, 60_000);
    await hinted.send(follower, 'GET', '/v1/status', undefined);
    assert.equal(hinted.preferred, follower, 'followed a hint to a member that did not answer');
    hinted.markUnresponsive(stale, 0);
    await hinted.send(follower, 'GET', '/v1/status', undefined);
    assert.equal(hinted.preferred, stale);
  } finally {
    await hinted.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
