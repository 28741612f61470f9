import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Endpoints } from './http-endpoints.ts';
import { discoverLeader } from './leader-discovery.ts';

/** A member answering GET /v1/status as `status(ownUrl)` says, or never answering when null. */
async function member(status: ((url: string) => unknown) | null): Promise<{ url: string; server: Server }> {
  const server = createServer((_request, response) => {
    if (status === null) return; // a paused member: the connection is accepted, nothing comes back
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(status(url)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, server };
}

const statusOf = (id: string, leader: string | null, term: number, leaderUrl: string) => ({
  id,
  leader,
  term,
  members: leader === null ? [] : [{ id: leader, clientUrl: leaderUrl }],
});

async function discover(urls: string[], timeoutMs: number): Promise<{ found: string | null; ms: number }> {
  const endpoints = new Endpoints({
    endpoints: urls,
    token: undefined,
    connectionsPerEndpoint: 1,
    requestTimeoutMs: 10_000,
    rpc: false,
  });
  const started = performance.now();
  try {
    const found = await discoverLeader(endpoints, timeoutMs);
    return { found, ms: performance.now() - started };
  } finally {
    await endpoints.close();
  }
}

test('a member that does not answer holds nobody up: the first that says it leads wins at once', async () => {
  const paused = await member(null);
  const leader = await member((url) => statusOf('m2', 'm2', 7, url));
  try {
    const { found, ms } = await discover([paused.url, leader.url], 3000);
    assert.equal(found, leader.url);
    assert.ok(ms < 1500, `took ${Math.round(ms)} ms`);
  } finally {
    paused.server.closeAllConnections();
    paused.server.close();
    leader.server.close();
  }
});

test('a leader only others name is not taken (it may be the one that stopped): the first member that answered is', async () => {
  const follower = await member(() => statusOf('m1', 'm9', 3, 'http://127.0.0.1:1'));
  const candidate = await member(() => statusOf('m3', null, 6, ''));
  try {
    const { found } = await discover([follower.url, candidate.url], 3000);
    assert.ok(found === follower.url || found === candidate.url, `took ${String(found)}`);
    assert.equal((await discover([candidate.url], 3000)).found, candidate.url);
    assert.equal((await discover(['http://127.0.0.1:9'], 3000)).found, null);
  } finally {
    for (const m of [follower, candidate]) m.server.close();
  }
});
