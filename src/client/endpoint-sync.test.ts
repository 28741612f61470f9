// skein/client's endpoint list follows the cluster's membership (syncEndpoints, autoSyncIntervalMs).
// The member here is scripted: it reports whatever membership the test sets.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { MemberInfo } from '../kv/types.ts';
import { startTestServer } from '../server/test-server.ts';
import { connect, SkeinClient } from './skein-client.ts';

async function memberReporting(
  members: () => Partial<MemberInfo>[],
  headers: () => Record<string, string> = () => ({}),
) {
  const server = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    for (const [name, value] of Object.entries(headers())) response.setHeader(name, value);
    if (request.url === '/v1/members') response.end(JSON.stringify({ members: members() }));
    else response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

test('syncEndpoints adds members that joined, drops discovered ones that left, and keeps the configured endpoints', async () => {
  let reported: Partial<MemberInfo>[] = [];
  const member = await memberReporting(() => reported);
  const client = new SkeinClient({ endpoints: [member.url], autoSyncIntervalMs: 0 });
  try {
    reported = [
      { name: 'a', clientUrl: member.url },
      { name: 'b', clientUrl: 'http://127.0.0.1:1' },
      { name: 'c', clientUrl: '' }, // not published yet
    ];
    assert.deepEqual(await client.syncEndpoints(), [member.url, 'http://127.0.0.1:1']);
    // b was replaced by d, and the member the client was configured with left the cluster.
    reported = [{ name: 'd', clientUrl: 'http://127.0.0.1:2/' }];
    assert.deepEqual(await client.syncEndpoints(), [member.url, 'http://127.0.0.1:2']);
    assert.equal(client.endpoint, member.url, 'the preferred member stays preferred');
  } finally {
    await client.close();
    await member.close();
  }
});

test('autoSyncIntervalMs refreshes the list by itself, and refuses intervals under a second', async () => {
  const member = await memberReporting(() => [{ name: 'b', clientUrl: 'http://127.0.0.1:3' }]);
  const client = new SkeinClient({ endpoints: [member.url], autoSyncIntervalMs: 1000 });
  try {
    const deadline = Date.now() + 10_000;
    while (!client.endpoints.includes('http://127.0.0.1:3') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(client.endpoints, [member.url, 'http://127.0.0.1:3'], 'synced within 10 s');
  } finally {
    await client.close();
    await member.close();
  }
  for (const bad of [1, 999, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new SkeinClient({ endpoints: ['http://127.0.0.1:1'], autoSyncIntervalMs: bad }), {
      code: 'SKEIN_INVALID_ARGUMENT',
    });
  }
});

test('a member reached under another URL than the one it published is listed once, and leader hints naming it go to the URL in the list', async () => {
  let leaderHint: string | undefined;
  const member = await memberReporting(
    () => [
      { id: 'a', name: 'a', clientUrl: member.url }, // published as 127.0.0.1
      { id: 'b', name: 'b', clientUrl: 'http://127.0.0.1:1' },
    ],
    () => ({ 'skein-member': 'a', ...(leaderHint !== undefined ? { 'skein-leader': leaderHint } : {}) }),
  );
  const configured = member.url.replace('127.0.0.1', 'localhost');
  const client = new SkeinClient({ endpoints: [configured], autoSyncIntervalMs: 0 });
  try {
    assert.deepEqual(await client.syncEndpoints(), [configured, 'http://127.0.0.1:1']);
    leaderHint = member.url; // "the leader is at 127.0.0.1": that is the member behind `configured`
    await client.status();
    assert.deepEqual(client.endpoints, [configured, 'http://127.0.0.1:1'], 'no second entry for a');
    assert.equal(client.endpoint, configured);
  } finally {
    await client.close();
    await member.close();
  }
});

test('a real member names itself in every /v1 answer, so the configured localhost URL is not doubled', async () => {
  const { server, stop } = await startTestServer();
  const published = server.clientUrl; // http://127.0.0.1:<port>
  const configured = published.replace('127.0.0.1', 'localhost');
  const client = await connect({ endpoints: [configured], autoSyncIntervalMs: 0 });
  try {
    const answer = await fetch(`${published}/v1/status`);
    assert.equal(answer.headers.get('skein-member'), server.status().members[0]!.id);
    assert.deepEqual(await client.syncEndpoints(), [configured]);
  } finally {
    await client.close();
    await stop();
  }
});
