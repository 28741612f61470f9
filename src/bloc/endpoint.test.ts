import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, type SkeinClient } from '../client/index.ts';
import type { SkeinServer } from '../server/server.ts';
import { startTestServer } from '../server/test-server.ts';
import { startBlocEndpoint, type BlocEndpoint } from './endpoint.ts';
import { blocRequest, getIndex, heartbeatUntil, settled, SETTLING } from './test-http.ts';

// One coordinator for the file; every test uses its own group. Timeout 1 s, settle 300 ms.
let server: SkeinServer;
let stopServer: () => Promise<void>;
let client: SkeinClient;

before(async () => {
  const started = await startTestServer();
  server = started.server;
  stopServer = started.stop;
  client = await connect({ endpoints: server.clientUrl });
});

after(async () => {
  await client.close();
  await stopServer();
});

async function endpointFor(group: string, extra: { maxSessions?: number } = {}): Promise<BlocEndpoint> {
  return await startBlocEndpoint({
    coordinator: client,
    group,
    timeoutSeconds: 1,
    settleMs: 300,
    listen: { host: '127.0.0.1', port: 0 },
    ...extra,
  });
}

const allSettled = (bodies: string[]): boolean => bodies.every((b) => b.includes('SETTLED"'));

test('members settle in join order, stay settled while heartbeating, and compact after a DELETE', async () => {
  const bloc = await endpointFor('flow');
  try {
    const first = await blocRequest(bloc.url, 'GET', '/index', 'a');
    assert.equal(first.status, 200);
    assert.equal(first.body, SETTLING, 'a new member finds the group settling');
    assert.equal(first.headers['content-type'], 'application/json');
    assert.equal(first.headers['content-length'], String(SETTLING.length));
    assert.equal(first.headers['transfer-encoding'], undefined);
    assert.equal(await getIndex(bloc.url, 'b'), SETTLING);
    assert.equal(await getIndex(bloc.url, 'c'), SETTLING);

    const bodies = await heartbeatUntil(bloc.url, ['a', 'b', 'c'], allSettled);
    assert.deepEqual(bodies, [settled(1, 3), settled(2, 3), settled(3, 3)]);
    const generation = (await client.getGroup('flow'))?.generation;
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(
        await Promise.all(['a', 'b', 'c'].map((s) => getIndex(bloc.url, s))),
        [settled(1, 3), settled(2, 3), settled(3, 3)],
        'heartbeats of settled members never disturb the group',
      );
    }
    assert.equal((await client.getGroup('flow'))?.generation, generation);

    const leaseOfB = (await client.getGroup('flow'))?.members.find((m) => m.id === 'b')?.session;
    const deleted = await blocRequest(bloc.url, 'DELETE', '/session', 'b');
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body, '{}');
    assert.equal(await getIndex(bloc.url, 'a'), SETTLING, 'a DELETE makes everyone settle again');
    assert.deepEqual(await heartbeatUntil(bloc.url, ['a', 'c'], allSettled), [settled(1, 2), settled(2, 2)]);
    assert.ok(leaseOfB !== undefined);
    assert.ok(
      !(await client.listLeases()).some((l) => l.id === leaseOfB),
      'the deleted session’s lease was revoked',
    );

    const again = await blocRequest(bloc.url, 'DELETE', '/session', 'b');
    assert.equal(again.status, 404);
    assert.equal(JSON.parse(again.body).error.code, 'SKEIN_MEMBERSHIP_NOT_MEMBER');
  } finally {
    await bloc.close();
  }
});

test('a member that stops heartbeating is evicted after its timeout; the rest re-settle', async () => {
  const bloc = await endpointFor('evict');
  try {
    assert.deepEqual(await heartbeatUntil(bloc.url, ['x', 'y', 'z'], allSettled), [
      settled(1, 3),
      settled(2, 3),
      settled(3, 3),
    ]);
    // x falls silent; y and z keep heartbeating (100 ms apart, well within the 1 s timeout).
    const silentSince = Date.now();
    const halfway = await heartbeatUntil(bloc.url, ['y', 'z'], () => Date.now() - silentSince >= 500);
    assert.deepEqual(halfway, [settled(2, 3), settled(3, 3)], 'not evicted before its timeout');
    assert.deepEqual(await heartbeatUntil(bloc.url, ['y', 'z'], (b) => b[0] === settled(1, 2)), [
      settled(1, 2),
      settled(2, 2),
    ]);
    assert.deepEqual(
      (await client.getGroup('evict'))?.members.map((m) => m.id),
      ['y', 'z'],
    );
    // x comes back: it joins again, last in join order, as bloc re-adds it.
    assert.equal(await getIndex(bloc.url, 'x'), SETTLING);
    assert.deepEqual(await heartbeatUntil(bloc.url, ['x', 'y', 'z'], allSettled), [
      settled(3, 3),
      settled(1, 3),
      settled(2, 3),
    ]);
  } finally {
    await bloc.close();
  }
});

test('routing: HEAD, 405 with Allow, 404 paths, query strings ignored', async () => {
  const bloc = await endpointFor('routes');
  try {
    const head = await blocRequest(bloc.url, 'HEAD', '/index', 'h');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String(SETTLING.length));
    assert.deepEqual(
      (await client.getGroup('routes'))?.members.map((m) => m.id),
      ['h'],
      'HEAD heartbeats and joins, as in bloc',
    );
    for (const [method, path, allow] of [
      ['POST', '/index', 'GET, HEAD'],
      ['PUT', '/index', 'GET, HEAD'],
      ['DELETE', '/index', 'GET, HEAD'],
      ['GET', '/session', 'DELETE'],
      ['POST', '/session', 'DELETE'],
    ] as const) {
      const answer = await blocRequest(bloc.url, method, path, 'h');
      assert.equal(answer.status, 405, `${method} ${path}`);
      assert.equal(answer.headers['allow'], allow);
      assert.equal(JSON.parse(answer.body).error.code, 'SKEIN_METHOD_NOT_ALLOWED');
    }
    for (const path of ['/index/', '/', '/indexx', '/session/', '/v1/groups/get']) {
      const answer = await blocRequest(bloc.url, 'GET', path, 'h');
      assert.equal(answer.status, 404, path);
      assert.equal(answer.headers['content-type'], 'application/json');
      assert.equal(JSON.parse(answer.body).error.code, 'SKEIN_NOT_FOUND');
    }
    assert.equal((await blocRequest(bloc.url, 'GET', '/index?x=1', 'h')).status, 200);
  } finally {
    await bloc.close();
  }
});

test('the session header: required, bounded, first value wins', async () => {
  const bloc = await endpointFor('headers');
  try {
    for (const [method, path] of [
      ['GET', '/index'],
      ['HEAD', '/index'],
      ['DELETE', '/session'],
    ] as const) {
      const answer = await blocRequest(bloc.url, method, path);
      assert.equal(answer.status, 400, `${method} without the header`);
      if (method !== 'HEAD') {
        const { error } = JSON.parse(answer.body);
        assert.equal(error.code, 'SKEIN_INVALID_ARGUMENT');
        assert.match(error.message, /Bloc-Session-ID/);
      }
    }
    assert.equal((await blocRequest(bloc.url, 'GET', '/index', '   ')).status, 400, 'a blank id');
    const tooLong = await blocRequest(bloc.url, 'GET', '/index', 's'.repeat(257));
    assert.equal(tooLong.status, 400);
    assert.match(JSON.parse(tooLong.body).error.message, /at most 256/);
    assert.equal((await blocRequest(bloc.url, 'GET', '/index', 's'.repeat(256))).status, 200);

    assert.equal((await blocRequest(bloc.url, 'GET', '/index', ['first', 'second'])).status, 200);
    const ids = (await client.getGroup('headers'))?.members.map((m) => m.id);
    assert.deepEqual(ids, ['s'.repeat(256), 'first'], 'no group change for refused requests');

    const unknown = await blocRequest(bloc.url, 'DELETE', '/session', 'nobody');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers['content-type'], 'application/json');
    assert.equal(JSON.parse(unknown.body).error.code, 'SKEIN_MEMBERSHIP_NOT_MEMBER');
  } finally {
    await bloc.close();
  }
});

test('concurrent first requests of one session join it once', async () => {
  const bloc = await endpointFor('racing');
  try {
    const leasesBefore = new Set((await client.listLeases()).map((l) => l.id));
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => blocRequest(bloc.url, 'GET', '/index', 'r')),
    );
    assert.ok(answers.every((a) => a.status === 200 && a.body === SETTLING));
    const group = await client.getGroup('racing');
    assert.equal(group?.members.length, 1);
    assert.equal(group.changeSeq, group.members[0]?.joinSeq, 'joined once, never re-bound');
    // (Leases of earlier tests may expire meanwhile: count only the new ones.)
    const granted = (await client.listLeases()).filter((l) => !leasesBefore.has(l.id));
    assert.deepEqual(
      granted.map((l) => l.id),
      [group.members[0]?.session],
      'one lease granted',
    );
    assert.equal((await blocRequest(bloc.url, 'DELETE', '/session', 'r')).status, 200);
  } finally {
    await bloc.close();
  }
});

test('a restarted endpoint keeps its members: same indexes, no re-settle', async () => {
  const first = await endpointFor('restart');
  const sessions = ['p', 'q', 'r'];
  assert.deepEqual(await heartbeatUntil(first.url, sessions, allSettled), [
    settled(1, 3),
    settled(2, 3),
    settled(3, 3),
  ]);
  const before = await client.getGroup('restart');
  await first.close();
  const second = await endpointFor('restart');
  try {
    assert.deepEqual(await Promise.all(sessions.map((s) => getIndex(second.url, s))), [
      settled(1, 3),
      settled(2, 3),
      settled(3, 3),
    ]);
    const now = await client.getGroup('restart');
    assert.equal(now?.generation, before?.generation);
    assert.deepEqual(
      now?.members.map((m) => m.session),
      before?.members.map((m) => m.session),
      'the same leases',
    );
    // A DELETE for a session this endpoint never served finds it in the group too.
    const gone = await blocRequest(second.url, 'DELETE', '/session', 'q');
    assert.equal(gone.status, 200);
    assert.deepEqual(await heartbeatUntil(second.url, ['p', 'r'], allSettled), [
      settled(1, 2),
      settled(2, 2),
    ]);
  } finally {
    await second.close();
  }
});

test('two endpoints serving one group share its sessions (a client may alternate between them)', async () => {
  const [one, two] = await Promise.all([endpointFor('shared'), endpointFor('shared')]);
  try {
    // Both see the new session at once: both join it, the later join wins the member.
    await Promise.all([getIndex(one.url, 's1'), getIndex(two.url, 's1'), getIndex(one.url, 's2')]);
    let bodies: string[] = [];
    for (let round = 0; round < 80; round++) {
      const via = round % 2 === 0 ? [one, two] : [two, one];
      bodies = await Promise.all([getIndex(via[0]!.url, 's1'), getIndex(via[1]!.url, 's2')]);
      if (allSettled(bodies)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(allSettled(bodies), `settled despite alternating endpoints: ${bodies.join(' | ')}`);
    const generation = (await client.getGroup('shared'))?.generation;
    for (const via of [one, two, one, two]) {
      assert.equal((await getIndex(via.url, 's1')).includes('SETTLED'), true);
    }
    assert.equal(
      (await client.getGroup('shared'))?.generation,
      generation,
      'no endpoint re-joins the member',
    );
    assert.equal((await blocRequest(two.url, 'DELETE', '/session', 's1')).status, 200);
    assert.equal((await blocRequest(one.url, 'DELETE', '/session', 's1')).status, 404);
    assert.equal((await blocRequest(one.url, 'DELETE', '/session', 's2')).status, 200);
    assert.equal(await client.getGroup('shared'), null);
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});

test('a group with other settings is refused at start', async () => {
  const lease = await client.grantLease(5);
  await client.joinGroupMember({ group: 'sticky', member: 'm', session: lease.id, settleMs: 300 });
  await assert.rejects(endpointFor('sticky'), { code: 'SKEIN_MEMBERSHIP_STRATEGY_MISMATCH' });
  await client.joinGroupMember({
    group: 'slow',
    member: 'm',
    session: lease.id,
    settleMs: 500,
    strategy: 'join-order',
  });
  await assert.rejects(endpointFor('slow'), (error: Error) => {
    assert.equal((error as Error & { code: string }).code, 'SKEIN_MEMBERSHIP_SETTLE_MISMATCH');
    assert.match(error.message, /--settle 0\.5/);
    return true;
  });
  await client.revokeLease(lease.id);
});

test('bounded sessions: past maxSessions a new session gets 503', async () => {
  const bloc = await endpointFor('bounded', { maxSessions: 2 });
  try {
    assert.equal((await blocRequest(bloc.url, 'GET', '/index', 'one')).status, 200);
    assert.equal((await blocRequest(bloc.url, 'GET', '/index', 'two')).status, 200);
    const full = await blocRequest(bloc.url, 'GET', '/index', 'three');
    assert.equal(full.status, 503);
    assert.equal(JSON.parse(full.body).error.code, 'SKEIN_BLOC_TOO_MANY_SESSIONS');
    assert.equal(
      (await blocRequest(bloc.url, 'GET', '/index', 'one')).status,
      200,
      'known ones still served',
    );
    assert.equal((await blocRequest(bloc.url, 'DELETE', '/session', 'two')).status, 200);
    assert.equal((await blocRequest(bloc.url, 'GET', '/index', 'three')).status, 200, 'room again');
  } finally {
    await bloc.close();
  }
});

test('an unreachable coordinator is a 503 with JSON, not a hang', async () => {
  const lonely = await startTestServer();
  const lonelyClient = await connect({ endpoints: lonely.server.clientUrl, requestTimeoutMs: 800 });
  const bloc = await startBlocEndpoint({
    coordinator: lonelyClient,
    timeoutSeconds: 1,
    settleMs: 300,
    listen: { host: '127.0.0.1', port: 0 },
  });
  try {
    assert.equal((await blocRequest(bloc.url, 'GET', '/index', 'k')).status, 200);
    await lonely.stop();
    for (const session of ['k', 'new']) {
      const startedAt = Date.now();
      const answer = await blocRequest(bloc.url, 'GET', '/index', session);
      assert.equal(answer.status, 503, answer.body);
      assert.match(JSON.parse(answer.body).error.code, /^SKEIN_/);
      assert.ok(Date.now() - startedAt < 3_000, 'answered within the request deadline');
    }
  } finally {
    await bloc.close();
    await lonelyClient.close();
  }
});
