// Which refusals skein/client retries a write after: only those that say the write never took
// effect. The first member here is scripted to refuse; the second is a real server.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestClient } from '../server/test-server.ts';
import { SkeinClient } from './skein-client.ts';

/** A member that answers every request with HTTP 503 and `code`, counting the puts. */
async function refusingMember(
  code: string,
): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server: Server = createServer((request, response) => {
    if (request.url === '/v1/kv/put') requests++;
    response.writeHead(503, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: { code, message: `scripted ${code}` } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe('write retries', () => {
  let live: Awaited<ReturnType<typeof startTestClient>>;
  before(async () => {
    live = await startTestClient();
  });
  after(async () => {
    await live.stop();
  });

  for (const code of ['SKEIN_NOT_LEADER', 'SKEIN_NO_LEADER', 'SKEIN_STOPPED']) {
    test(`a write refused with ${code} is retried on the next member (it never took effect)`, async () => {
      const refusing = await refusingMember(code);
      const client = new SkeinClient({ endpoints: [refusing.url, live.url], rpc: false });
      try {
        await client.put({ key: `retried/${code}`, value: 'v' });
        assert.equal(refusing.requests(), 1);
        assert.equal((await live.client.get(`retried/${code}`))?.value, 'v');
      } finally {
        await client.close();
        await refusing.close();
      }
    });
  }

  test('a write refused with SKEIN_TIMEOUT is not retried: it may have been applied', async () => {
    const refusing = await refusingMember('SKEIN_TIMEOUT');
    const client = new SkeinClient({ endpoints: [refusing.url, live.url], rpc: false });
    try {
      await assert.rejects(client.put({ key: 'not-retried', value: 'v' }), { code: 'SKEIN_TIMEOUT' });
      assert.equal(await live.client.get('not-retried'), null);
    } finally {
      await client.close();
      await refusing.close();
    }
  });
});
