/**
 * /v1/groups over real HTTP on a real single-member server (data on disk), with the real client
 * and the real GroupMember loop. Settle periods are short; assertions wait for states, not times.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type SkeinClient } from '../client/skein-client.ts';
import { joinGroup, ownerIndex, type GroupMember } from '../membership/index.ts';
import { postJson, startTestClient, startTestServer } from './test-server.ts';

async function until<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('groups API (one member, real sockets)', () => {
  let stop: () => Promise<void>;
  let url: string;
  let client: SkeinClient;
  const members: GroupMember[] = [];

  before(async () => {
    ({ stop, url, client } = await startTestClient());
  });
  after(async () => {
    for (const m of members) await m.leave();
    await stop();
  });

  test('members settle at 1..n; a leave re-settles the rest (sticky keeps survivors ≤ total)', async () => {
    const join = (id: string): Promise<GroupMember> =>
      joinGroup(client, 'workers', { memberId: id, settleMs: 300, heartbeatIntervalMs: 250 });
    const [a, b, c] = await Promise.all([join('a'), join('b'), join('c')]);
    members.push(a, b, c);
    assert.equal(a.indexTotal(), null, 'nobody has an index while SETTLING');
    await until('3 settled', () => members.every((m) => m.indexTotal()?.total === 3));
    const first = members.map((m) => m.indexTotal());
    assert.deepEqual(first.map((x) => x?.index).sort(), [1, 2, 3]);
    assert.equal(new Set(first.map((x) => x?.generation)).size, 1, 'one generation');
    const keys = Array.from({ length: 60 }, (_, i) => `job-${i}`);
    for (const key of keys) {
      const owners = members.filter((m) => m.owns(key));
      assert.equal(owners.length, 1, `${key} has exactly one owner`);
      assert.equal(owners[0]?.indexTotal()?.index, ownerIndex(key, 3));
    }

    const bIndex = b.indexTotal()!.index;
    const cIndex = c.indexTotal()!.index;
    await a.leave();
    assert.equal(a.indexTotal(), null);
    await until('2 settled', () => [b, c].every((m) => m.indexTotal()?.total === 2));
    const after2 = [b.indexTotal()!, c.indexTotal()!];
    assert.ok(after2[0]!.generation > first[0]!.generation, 'a new generation');
    if (bIndex <= 2) assert.equal(after2[0]!.index, bIndex, 'sticky: b keeps its index');
    if (cIndex <= 2) assert.equal(after2[1]!.index, cIndex, 'sticky: c keeps its index');

    const view = await client.getGroup('workers');
    assert.deepEqual(
      view?.members.map((m) => m.id),
      ['b', 'c'],
    );
    const list = await client.listGroups();
    assert.deepEqual(
      list.map((g) => [g.name, g.state, g.size, g.settleMs]),
      [['workers', 'SETTLED', 2, 300]],
    );
  });

  test('a member that would heartbeat less often than the group settles is refused, and leaves nothing behind', async () => {
    const leasesBefore = (await client.listLeases()).length;
    await assert.rejects(
      joinGroup(client, 'workers', { heartbeatIntervalMs: 1_000 }), // the group settles after 300 ms
      (error: { code?: string; message?: string }) =>
        error.code === 'SKEIN_MEMBERSHIP_SETTLE_MISMATCH' && /settles after 300 ms/.test(error.message ?? ''),
    );
    await assert.rejects(joinGroup(client, 'other', { heartbeatIntervalMs: 1_000, settleMs: 500 }), {
      code: 'SKEIN_INVALID_CONFIG',
    });
    assert.equal((await client.listLeases()).length, leasesBefore, 'its session was revoked');
    assert.equal((await client.getGroup('workers'))?.members.length, 2);
  });

  test('heartbeats keep a quiet settled group as it is and write nothing to the log', async () => {
    const before = (await client.status()).raftIndex;
    const generation = members[1]!.generation;
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // ≥ 3 heartbeats each
    assert.equal(members[1]!.generation, generation);
    assert.equal((await client.status()).raftIndex, before, 'no Raft entries for heartbeats');
  });

  test('a member whose session expires is evicted; it comes back as a new incarnation', async () => {
    const lease = await client.grantLease(1);
    await client.joinGroupMember({ group: 'ephemeral', member: 'x', session: lease.id, settleMs: 0 });
    assert.ok((await client.getGroup('ephemeral')) !== null);
    await until('expiry evicts x', async () => (await client.getGroup('ephemeral')) === null, 5_000);
    const hb = await postJson(`${url}/v1/groups/heartbeat`, {
      group: 'ephemeral',
      member: 'x',
      session: lease.id,
    });
    assert.equal(hb.body.error?.code, 'SKEIN_LEASE_NOT_FOUND');
    assert.equal(hb.status, 404);
  });

  test('bad input: 400 naming the field, 404 for strangers, 409 for a group created otherwise', async () => {
    const lease = await client.grantLease(5);
    const cases: [string, unknown, number, string][] = [
      ['/v1/groups/join', { group: '', member: 'a', session: lease.id }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/groups/join', { group: 'g', member: 'a', session: -1 }, 400, 'SKEIN_INVALID_ARGUMENT'],
      [
        '/v1/groups/join',
        { group: 'g', member: 'a', session: lease.id, extra: 1 },
        400,
        'SKEIN_INVALID_ARGUMENT',
      ],
      [
        '/v1/groups/join',
        { group: 'g', member: 'a', session: lease.id, strategy: 'x' },
        400,
        'SKEIN_INVALID_ARGUMENT',
      ],
      [
        '/v1/groups/join',
        { group: 'g', member: 'a', session: lease.id, settleMs: 3_600_001 },
        400,
        'SKEIN_INVALID_ARGUMENT',
      ],
      [
        '/v1/groups/join',
        { group: 'g', member: 'a', session: 999_999 },
        404,
        'SKEIN_MEMBERSHIP_SESSION_NOT_FOUND',
      ],
      [
        '/v1/groups/join',
        { group: 'g'.repeat(257), member: 'a', session: lease.id },
        400,
        'SKEIN_INVALID_ARGUMENT',
      ],
      ['/v1/groups/leave', { group: 'nope', member: 'a' }, 404, 'SKEIN_MEMBERSHIP_NOT_MEMBER'],
      [
        '/v1/groups/heartbeat',
        { group: 'nope', member: 'a', session: lease.id },
        404,
        'SKEIN_MEMBERSHIP_NOT_MEMBER',
      ],
      ['/v1/groups/get', { group: 'nope' }, 404, 'SKEIN_MEMBERSHIP_GROUP_NOT_FOUND'],
      ['/v1/groups/list', { bogus: true }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/groups/join', '{"group":', 400, 'SKEIN_INVALID_ARGUMENT'],
    ];
    for (const [path, body, status, code] of cases) {
      const answer = await postJson(`${url}${path}`, body);
      assert.deepEqual(
        [answer.status, answer.body.error?.code],
        [status, code],
        `${path} ${JSON.stringify(body)}`,
      );
      assert.ok((answer.body.error?.message.length ?? 0) > 0, 'a message that says what to do');
    }
    await client.joinGroupMember({ group: 'fixed', member: 'a', session: lease.id, strategy: 'join-order' });
    const mismatch = await postJson(`${url}/v1/groups/join`, {
      group: 'fixed',
      member: 'b',
      session: lease.id,
      strategy: 'sticky',
    });
    assert.deepEqual(
      [mismatch.status, mismatch.body.error?.code],
      [409, 'SKEIN_MEMBERSHIP_STRATEGY_MISMATCH'],
    );
    await client.revokeLease(lease.id);
    assert.equal(await client.getGroup('fixed'), null, 'revoking the session removed its member');
  });
});

describe('groups across a restart', () => {
  test('a settled group survives a restart of its coordinator with the same assignment', async () => {
    const first = await startTestServer();
    const client = await connect({ endpoints: [first.server.clientUrl] });
    const lease = await client.grantLease(30);
    for (const id of ['p', 'q']) {
      await client.joinGroupMember({ group: 'durable', member: id, session: lease.id, settleMs: 100 });
    }
    const settled = await until('settled', async () => {
      const g = await client.getGroup('durable');
      return g?.state === 'SETTLED' ? g : null;
    });
    await client.close();
    await first.stop(true);
    const second = await startTestServer({}, first.dataDir);
    const again = await connect({ endpoints: [second.server.clientUrl] });
    try {
      const g = await again.getGroup('durable');
      assert.deepEqual(g, settled, 'same members, indexes and generation after the restart');
    } finally {
      await again.close();
      await second.stop();
    }
  });
});
