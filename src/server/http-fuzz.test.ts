import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { connect } from '../client/skein-client.ts';
import { startTestServer } from './test-server.ts';

const ROUTES = [
  '/v1/kv/put',
  '/v1/kv/range',
  '/v1/kv/delete',
  '/v1/kv/txn',
  '/v1/kv/compact',
  '/v1/lease/grant',
  '/v1/lease/revoke',
  '/v1/lease/keepalive',
  '/v1/lease/timetolive',
  '/v1/watch',
  '/v1/members',
] as const;

/** Bodies that are almost right: the fields the API knows, with values of every type and size. */
const field = fc.oneof(
  fc.string(),
  fc.string({ minLength: 4000, maxLength: 6000 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 0, 2 ** 53, Number.MAX_SAFE_INTEGER, 1e300),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.anything(), { maxKeys: 3 }),
);
const nearlyValid = fc.record(
  {
    key: field,
    value: field,
    prefix: field,
    rangeEnd: field,
    limit: field,
    revision: field,
    ttlSeconds: field,
    id: field,
    compare: field,
    success: field,
    failure: field,
    startRevision: field,
    name: field,
    peerAddress: field,
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  nearlyValid.map((b) => JSON.stringify(b)),
  fc.anything().map((v) => (JSON.stringify(v) as string | undefined) ?? 'null'),
  fc.string(),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
);

test('fuzzing the HTTP API: every malformed request gets a clear 4xx, the server keeps serving, no data lost', async () => {
  const { server, stop } = await startTestServer({ autoCompactionRevisions: '0' });
  const client = await connect({ endpoints: server.clientUrl });
  try {
    await client.put({ key: 'sentinel', value: 'kept' });
    const sentinelRevision = (await client.get('sentinel'))?.modRevision;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), body, async (route, payload) => {
        if (route === '/v1/kv/delete' || route === '/v1/kv/compact') {
          // Keep the sentinel: a random delete range or compaction could legitimately remove it.
          if (payload.includes('sentinel') || payload.includes('"key":""') || payload.includes('revision'))
            return;
        }
        if (route === '/v1/kv/put' && payload.includes('sentinel')) return;
        const controller = new AbortController();
        const answer = await fetch(`${server.clientUrl}${route}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: payload,
          signal: controller.signal,
        });
        if (answer.status === 200) {
          controller.abort(); // a valid watch streams forever
          return;
        }
        const text = await answer.text();
        assert.ok(
          answer.status >= 400 && answer.status < 500,
          `${route} ${payload.slice(0, 100)} → ${answer.status} ${text.slice(0, 200)}`,
        );
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        assert.match(parsed.error?.code ?? '', /^SKEIN_[A-Z_]+$/, `${route}: ${text.slice(0, 200)}`);
        assert.ok((parsed.error?.message ?? '').length > 5, `${route}: no message`);
      }),
      { numRuns: 400, seed: Number(process.env['SKEIN_SEED'] ?? 42) },
    );
    const sentinel = await client.get('sentinel');
    assert.equal(sentinel?.value, 'kept');
    assert.equal(sentinel.modRevision, sentinelRevision);
    assert.equal((await fetch(`${server.clientUrl}/health`)).status, 200);
  } finally {
    await client.close();
    await stop();
  }
});
