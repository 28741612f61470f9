/**
 * The skein coordination service from a program: a one-member server in this process (free
 * loopback ports, a temporary data directory), a client from `connect()`, and the primitives most
 * applications need — put/get, a compare-and-set transaction, a lease with a key on it, a watch and
 * a lock.
 *
 *   node --conditions=skein-source --import tsx examples/coordination.ts
 *
 * In production the server is its own process (`npx skein server`, see docs/server.md) and the
 * program only calls `connect({ endpoints })`. Exits 0 when every step behaved as described.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WatchEvent } from 'skein/client';
import { adoptLease, connect, lock } from 'skein/client';
import { hasCode, silentLogger } from 'skein/core';
import { resolveServerConfig, startServer } from 'skein/server';

// Give up (and fail) rather than hang if something goes wrong.
setTimeout(() => {
  console.error('coordination: did not finish within 15 s');
  process.exit(1);
}, 15_000).unref();

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// --- 1. A one-member server: the embedded default, on free ports, in a temporary data directory --
const dataDir = mkdtempSync(join(tmpdir(), 'skein-example-'));
const config = resolveServerConfig(
  // The same settings as the `skein server` flags; ":0" picks a free port.
  { dataDir, listenClient: '127.0.0.1:0', listenPeer: '127.0.0.1:0', tickMs: '20' },
  {}, // no SKEIN_* environment variables
);
const server = await startServer(config, { logger: silentLogger });
console.log(`server ${server.name} serving clients at ${server.clientUrl}`);

// --- 2. A client. connect() asks who leads and sends requests there ------------------------------
const client = await connect({ endpoints: [server.clientUrl] });
// It follows membership changes (every autoSyncIntervalMs, or now): one member here.
assert.deepEqual(await client.syncEndpoints(), [server.clientUrl]);

// --- 3. put / get --------------------------------------------------------------------------------
const put = await client.put({ key: 'config/mode', value: 'fast' });
const mode = await client.get('config/mode'); // linearizable: sees every acknowledged write
assert.equal(mode?.value, 'fast');
assert.equal(mode.modRevision, put.revision);
console.log(
  `put config/mode=fast at revision ${put.revision}; get → ${mode.value} (version ${mode.version})`,
);

// --- 4. Compare-and-set: write only if nobody changed the key since we read it --------------------
const cas = (expectedModRevision: number, value: string) =>
  client.txn({
    compare: [{ key: 'config/mode', target: 'modRevision', op: '=', value: expectedModRevision }],
    success: [{ put: { key: 'config/mode', value } }],
    failure: [{ range: { key: 'config/mode' } }],
  });
const first = await cas(mode.modRevision, 'safe');
assert.equal(first.succeeded, true);
const stale = await cas(mode.modRevision, 'reckless'); // same expectation: it changed meanwhile
assert.equal(stale.succeeded, false);
const current = stale.responses[0];
assert.ok(current !== undefined && 'range' in current);
assert.equal(current.range.kvs[0]?.value, 'safe');
console.log(`CAS fast→safe succeeded at revision ${first.revision}; a second CAS on the old revision failed`);

// --- 5. A watch on a prefix: events in revision order, each exactly once --------------------------
const seen: WatchEvent[] = [];
const watch = await client.watch(
  { key: 'workers/', prefix: true },
  {
    onResponse: (response) => seen.push(...response.events),
    onError: (error) => {
      console.error('watch failed:', error);
      process.exit(1);
    },
  },
);

// --- 6. A lease with a key on it: revoking (or letting it expire) deletes the key ----------------
const lease = await client.grantLease(10);
await client.put({ key: 'workers/w1', value: 'up', lease: lease.id });
const ttl = await client.leaseTimeToLive(lease.id);
assert.deepEqual(ttl?.keys, ['workers/w1']);
// A holder keeps it alive: adoptLease renews it now, then every TTL / 3 (keepLease grants one and
// keeps it the same way), and emits 'lost' if it cannot.
const kept = await adoptLease(client, lease.id);
assert.equal(kept.ttlSeconds, 10);
kept.stop(); // stop renewing; revoking below deletes the key at once
console.log(`lease ${lease.id} (TTL ${lease.ttlSeconds}s) holds ${ttl.keys.join(', ')}`);
await client.revokeLease(lease.id);
assert.equal(await client.get('workers/w1'), null);
assert.equal(await client.leaseTimeToLive(lease.id), null);
await assert.rejects(client.keepAliveOnce(lease.id), (e: unknown) => hasCode(e, 'SKEIN_LEASE_NOT_FOUND'));

await waitFor('the watch to see the put and the delete', () => seen.length === 2);
assert.deepEqual(
  seen.map((e) => `${e.type} ${e.kv.key}`),
  ['put workers/w1', 'delete workers/w1'],
);
console.log(`watch saw: ${seen.map((e) => `${e.type} ${e.kv.key}@${e.kv.modRevision}`).join(', ')}`);
await watch.cancel();

// --- 7. A lock (skein/client recipes): the second contender waits for the first ------------------
const held = await lock(client, 'reindex', { ttlSeconds: 5 });
console.log(`lock reindex held with fencing token ${held.fencingToken}`);
let secondAcquired = false;
const second = lock(client, 'reindex', { ttlSeconds: 5 }).then((l) => {
  secondAcquired = true;
  return l;
});
await new Promise((resolve) => setTimeout(resolve, 200));
assert.equal(secondAcquired, false, 'the second contender must wait while the lock is held');
await held.unlock();
const next = await second;
assert.ok(next.fencingToken > held.fencingToken, 'every later holder gets a higher fencing token');
console.log(`after unlock the second contender holds it, fencing token ${next.fencingToken}`);
await next.unlock();

// --- 8. Status, then close everything -----------------------------------------------------------
const status = await client.status();
assert.equal(status.leader, server.name);
console.log(`status: leader ${status.leader}, revision ${status.revision}, ${status.keys} key(s)`);
await client.close();
await server.close(); // graceful: ends watches, flushes storage, closes sockets
rmSync(dataDir, { recursive: true, force: true });
console.log('done');
