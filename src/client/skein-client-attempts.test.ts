// The per-attempt bound of skein/client: a member that accepts connections and never answers (a
// paused process) costs a read `attemptTimeoutMs`, not its whole deadline; writes are never cut
// short. The other member is a real server.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { startTestClient } from '../server/test-server.ts';
import { SkeinClient } from './skein-client.ts';

/** Accepts connections (and RPC upgrades) and never answers on them. */
async function silentMember(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(() => undefined);
  const upgraded = new Set<Duplex>(); // no longer the HTTP server's: closed here
  server.on('upgrade', (_request, socket: Duplex) => upgraded.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('attemptTimeoutMs', () => {
  let silent: Awaited<ReturnType<typeof silentMember>>;
  let live: Awaited<ReturnType<typeof startTestClient>>;

  before(async () => {
    silent = await silentMember();
    live = await startTestClient();
    await live.client.put({ key: 'k', value: 'v' });
  });
  after(async () => {
    await live.stop();
    await silent.close();
  });

  /** A client whose preferred member is the silent one (no `connect()`, which would find the leader). */
  function clientPreferringSilent(options: {
    requestTimeoutMs: number;
    attemptTimeoutMs?: number;
    rpc?: boolean;
  }) {
    const client = new SkeinClient({ endpoints: [silent.url, live.url], ...options });
    assert.equal(client.endpoint, silent.url);
    return client;
  }

  for (const rpc of [true, false]) {
    test(`a read gives up on a silent member after one attempt timeout and is answered by the next (rpc: ${rpc})`, async () => {
      const client = clientPreferringSilent({ requestTimeoutMs: 4000, attemptTimeoutMs: 300, rpc });
      try {
        const started = performance.now();
        assert.equal((await client.get('k'))?.value, 'v');
        const tookMs = performance.now() - started;
        assert.ok(tookMs >= 290, `the silent member had its 300 ms (${tookMs.toFixed(0)} ms)`);
        // Without the bound this read would have waited out its 4 s deadline on the silent member.
        assert.ok(tookMs < 3500, `answered before the deadline (${tookMs.toFixed(0)} ms)`);
        assert.equal(client.endpoint, live.url, 'the client moved on');
      } finally {
        await client.close();
      }
    });
  }

  test('with attemptTimeoutMs 0, a read waits out its whole deadline on a silent member', async () => {
    const client = clientPreferringSilent({ requestTimeoutMs: 800, attemptTimeoutMs: 0 });
    try {
      await assert.rejects(client.get('k'), { code: 'SKEIN_UNAVAILABLE' });
    } finally {
      await client.close();
    }
  });

  test('a write is never cut short: it may have been applied, so it waits out its deadline and is not retried', async () => {
    const client = clientPreferringSilent({ requestTimeoutMs: 800, attemptTimeoutMs: 100 });
    try {
      const started = performance.now();
      await assert.rejects(client.put({ key: 'k', value: 'w' }), { code: 'SKEIN_UNAVAILABLE' });
      assert.ok(performance.now() - started >= 790, 'the write had its whole deadline');
      assert.equal((await live.client.get('k'))?.value, 'v', 'and was not sent elsewhere');
    } finally {
      await client.close();
    }
  });

  test('refuses a negative or non-finite attemptTimeoutMs', () => {
    for (const bad of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new SkeinClient({ endpoints: [live.url], attemptTimeoutMs: bad }), {
        code: 'SKEIN_INVALID_ARGUMENT',
      });
    }
  });
});
