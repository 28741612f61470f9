import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type SkeinClient } from '../client/skein-client.ts';
import type { WatchResponse } from '../kv/types.ts';
import { readBackup } from './backup.ts';
import { postJson, startTestServer } from './test-server.ts';

describe('skein server HTTP API (one member, real sockets, data on disk)', () => {
  let stop: (keepData?: boolean) => Promise<void>;
  let url: string;
  let client: SkeinClient;

  before(async () => {
    const started = await startTestServer();
    stop = started.stop;
    url = started.server.clientUrl;
    client = await connect({ endpoints: [url] });
  });
  after(async () => {
    await client.close();
    await stop();
  });

  test('put, get, range by prefix with limit, delete, and revisions', async () => {
    const first = await client.put({ key: 'api/a', value: '1' });
    const second = await client.put({ key: 'api/b', value: '2', prevKv: true });
    assert.equal(second.revision, first.revision + 1);
    const updated = await client.put({ key: 'api/a', value: '3', prevKv: true });
    assert.equal(updated.prevKv?.value, '1');
    const a = await client.get('api/a');
    assert.deepEqual(
      { value: a?.value, version: a?.version, create: a?.createRevision },
      { value: '3', version: 2, create: first.revision },
    );
    const page = await client.range({ key: 'api/', prefix: true, limit: 1 });
    assert.deepEqual([page.count, page.more, page.kvs.map((k) => k.key)], [2, true, ['api/a']]);
    const old = await client.range({ key: 'api/a', revision: first.revision });
    assert.equal(old.kvs[0]?.value, '1');
    const serializable = await client.get('api/b', { serializable: true });
    assert.equal(serializable?.value, '2');
    const deleted = await client.deleteRange({ key: 'api/', prefix: true, prevKv: true });
    assert.equal(deleted.deleted, 2);
    assert.equal(await client.get('api/a'), null);
  });

  test('a transaction is a compare-and-set', async () => {
    await client.put({ key: 'cas', value: 'v1' });
    const cas = (expected: string, value: string) =>
      client.txn({
        compare: [{ key: 'cas', target: 'value', op: '=', value: expected }],
        success: [{ put: { key: 'cas', value } }],
        failure: [{ range: { key: 'cas' } }],
      });
    assert.equal((await cas('v1', 'v2')).succeeded, true);
    const lost = await cas('v1', 'v3');
    assert.equal(lost.succeeded, false);
    const read = lost.responses[0];
    assert.ok(read !== undefined && 'range' in read, 'failure branch answered a range');
    assert.equal(read.range.kvs[0]?.value, 'v2');
  });

  test('leases: grant, attach, time to live, keepalive, revoke deletes the keys', async () => {
    const lease = await client.grantLease(30);
    await client.put({ key: 'leased', value: 'x', lease: lease.id });
    const info = await client.leaseTimeToLive(lease.id);
    assert.ok(info !== null && info.ttlSeconds > 25 && info.ttlSeconds <= 30, `ttl ${info?.ttlSeconds}`);
    assert.deepEqual(info.keys, ['leased']);
    assert.equal((await client.keepAliveOnce(lease.id)).ttlSeconds, 30);
    await client.revokeLease(lease.id);
    assert.equal(await client.get('leased'), null);
    assert.equal(await client.leaseTimeToLive(lease.id), null);
    await assert.rejects(client.keepAliveOnce(lease.id), { code: 'SKEIN_LEASE_NOT_FOUND' });
    await assert.rejects(client.put({ key: 'k', value: 'v', lease: lease.id }), {
      code: 'SKEIN_LEASE_NOT_FOUND',
    });
  });

  test('watch: history from a revision, then live changes, with previous values', async () => {
    const start = await client.put({ key: 'w/1', value: 'a' });
    await client.put({ key: 'w/1', value: 'b' });
    const seen: WatchResponse[] = [];
    const handle = await client.watch(
      { key: 'w/', prefix: true, startRevision: start.revision, prevKv: true },
      {
        onResponse: (r) => seen.push(r),
      },
    );
    await client.put({ key: 'w/2', value: 'c' });
    await client.deleteRange({ key: 'w/1' });
    await client.put({ key: 'other', value: 'not watched' });
    const deadline = Date.now() + 5000;
    while (seen.flatMap((r) => r.events).length < 4 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    await handle.cancel();
    const events = seen
      .flatMap((r) => r.events)
      .map((e) => `${e.type}:${e.kv.key}=${e.kv.value}<${e.prevKv?.value ?? ''}`);
    assert.deepEqual(events, ['put:w/1=a<', 'put:w/1=b<a', 'put:w/2=c<', 'delete:w/1=<b']);
  });

  test('a quiet watch stream carries a heartbeat line every heartbeatMs, and only when asked', async () => {
    /** The stream's lines until `enough` of them arrived or `ms` passed. */
    const linesWithin = async (body: unknown, ms: number, enough = Infinity): Promise<unknown[]> => {
      const controller = new AbortController();
      const answer = await fetch(`${url}/v1/watch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      assert.equal(answer.status, 200);
      let text = '';
      const reading = (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of answer.body as AsyncIterable<Uint8Array>) text += decoder.decode(chunk);
      })().catch(() => undefined); // aborted
      const deadline = Date.now() + ms;
      while (Date.now() < deadline && text.split('\n').length - 1 < enough) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      controller.abort();
      await reading;
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as unknown);
    };
    const startedMs = Date.now();
    const asked = await linesWithin({ key: 'quiet/', prefix: true, heartbeatMs: 100 }, 5000, 4);
    const elapsedMs = Date.now() - startedMs;
    assert.equal((asked[0] as { created?: boolean }).created, true);
    const beats = asked.slice(1);
    assert.equal(beats.length, 3, JSON.stringify(asked));
    assert.ok(
      beats.every((l) => JSON.stringify(l) === '{"heartbeat":true}'),
      JSON.stringify(beats),
    );
    assert.ok(elapsedMs >= 250, `three heartbeats 100 ms apart came within ${elapsedMs} ms`);
    const unasked = await linesWithin({ key: 'quiet/', prefix: true }, 300);
    assert.equal(unasked.length, 1, JSON.stringify(unasked));
  });

  test('watching a compacted revision fails with SKEIN_COMPACTED', async () => {
    const r1 = await client.put({ key: 'c', value: '1' });
    await client.put({ key: 'c', value: '2' });
    await client.compact(r1.revision + 1);
    const failed = await new Promise<Error>((resolve) => {
      void client.watch(
        { key: 'c', startRevision: r1.revision },
        { onResponse: () => undefined, onError: resolve },
      );
    });
    assert.equal((failed as Error & { code?: string }).code, 'SKEIN_COMPACTED');
    await assert.rejects(client.range({ key: 'c', revision: r1.revision }), { code: 'SKEIN_COMPACTED' });
  });

  test('bad input: a 4xx with a stable code and a message, never a crash', async () => {
    const cases: [string, unknown, number, string][] = [
      ['/v1/kv/put', '{not json', 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/kv/put', { key: 'k' }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/kv/put', { key: 'k', value: 1 }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/kv/put', { key: 'k', value: 'v', extra: true }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/kv/put', { key: 'k'.repeat(5000), value: 'v' }, 400, 'SKEIN_KEY_TOO_LARGE'],
      ['/v1/kv/put', { key: '', value: 'v' }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/kv/range', { key: 'a', prefix: true, rangeEnd: 'b' }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/kv/range', { key: 'a', limit: -1 }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/kv/range', { key: 'a', revision: 1e12 }, 400, 'SKEIN_FUTURE_REVISION'],
      ['/v1/lease/grant', { ttlSeconds: -5 }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/lease/grant', { ttlSeconds: '5' }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/lease/keepalive', { id: 987654 }, 404, 'SKEIN_LEASE_NOT_FOUND'],
      [
        '/v1/kv/txn',
        {
          compare: [],
          success: [{ put: { key: 'd', value: '1' } }, { put: { key: 'd', value: '2' } }],
          failure: [],
        },
        400,
        'SKEIN_DUPLICATE_KEY',
      ],
      ['/v1/watch', { key: 'a', prefix: true, rangeEnd: 'b' }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/watch', { key: 'a', heartbeatMs: 99 }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/watch', { key: 'a', heartbeatMs: 60_001 }, 400, 'SKEIN_INVALID_ARGUMENT'],
      ['/v1/nope', {}, 404, 'SKEIN_NOT_FOUND'],
    ];
    for (const [path, body, status, code] of cases) {
      const answer = await postJson(`${url}${path}`, body);
      assert.equal(
        answer.status,
        status,
        `${path} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(answer.body)}`,
      );
      assert.equal(answer.body.error?.code, code, `${path} ${JSON.stringify(body).slice(0, 80)}`);
      assert.ok(answer.body.error.message.length > 10, 'the message says what is wrong');
    }
    const huge = await postJson(`${url}/v1/kv/put`, { key: 'big', value: 'x'.repeat(2 * 1024 * 1024) });
    assert.deepEqual([huge.status, huge.body.error?.code], [413, 'SKEIN_BODY_TOO_LARGE']);
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
  });

  test('health, readiness, metrics and status', async () => {
    assert.equal((await fetch(`${url}/ready`)).status, 200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /skein_raft_is_leader 1/);
    assert.match(metrics, /skein_http_requests_total\{/);
    const status = await client.status();
    assert.equal(status.leader, status.id);
    assert.ok(status.revision > 1 && status.raftIndex >= status.revision - 1);
    assert.equal(status.members.length, 1);
    assert.equal(status.members[0]?.clientUrl, url);
  });

  test('snapshot save returns a verified backup of the store', async () => {
    await client.put({ key: 'backup/me', value: 'please' });
    const bytes = await client.snapshot();
    const backup = readBackup(bytes);
    assert.ok(backup.revision >= 1 && backup.chunks.length >= 1);
    const damaged = Buffer.from(bytes);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 10) ^ 0xff, damaged.length - 10);
    assert.throws(() => readBackup(damaged), { code: 'SKEIN_BACKUP_CORRUPT' });
  });
});

describe('skein server with an auth token', () => {
  test('a missing or wrong token gets 401; the right one works; /health needs none', async (t) => {
    const started = await startTestServer();
    await started.stop();
    const tokenFile = join(started.dataDir, '..', `token-${process.pid}`);
    writeFileSync(tokenFile, 's3cret-token');
    const { server, stop } = await startTestServer({ authTokenFile: tokenFile });
    t.after(() => stop());
    const url = server.clientUrl;
    assert.equal((await postJson(`${url}/v1/kv/range`, { key: 'a' })).status, 401);
    const wrong = await postJson(`${url}/v1/kv/range`, { key: 'a' }, { authorization: 'Bearer nope' });
    assert.deepEqual([wrong.status, wrong.body.error?.code], [401, 'SKEIN_UNAUTHORIZED']);
    const right = await postJson(
      `${url}/v1/kv/range`,
      { key: 'a' },
      { authorization: 'Bearer s3cret-token' },
    );
    assert.equal(right.status, 200);
    assert.equal((await fetch(`${url}/health`)).status, 200);
    const client = await connect({ endpoints: url, token: 's3cret-token' });
    await client.put({ key: 'a', value: 'b' });
    await client.close();
  });
});

describe('skein server restart', () => {
  test('data written before a restart from the same directory is there after it', async () => {
    const first = await startTestServer();
    const c1 = await connect({ endpoints: first.server.clientUrl });
    const lease = await c1.grantLease(60);
    for (let i = 0; i < 50; i++)
      await c1.put({ key: `r/${i}`, value: String(i), ...(i === 0 ? { lease: lease.id } : {}) });
    const before = await c1.status();
    await c1.close();
    await first.stop(true);
    const second = await startTestServer({}, first.dataDir);
    const c2 = await connect({ endpoints: second.server.clientUrl });
    try {
      const all = await c2.range({ key: 'r/', prefix: true });
      assert.equal(all.count, 50);
      assert.equal(all.revision, before.revision);
      assert.ok(
        (await c2.leaseTimeToLive(lease.id)) !== null,
        'the lease survived the restart with a fresh TTL',
      );
    } finally {
      await c2.close();
      await second.stop();
    }
  });
});
