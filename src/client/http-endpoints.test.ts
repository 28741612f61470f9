import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Endpoints } from './http-endpoints.ts';

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
