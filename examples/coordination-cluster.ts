/**
 * Three coordination-service members in this process (real TCP and HTTP on 127.0.0.1, each with
 * its own data directory), a client connected to all three, and a failover: the leader shuts down
 * while a watch is open; the next write goes to the new leader and the watch, resumed on another
 * member, sees every change exactly once.
 *
 *   node --conditions=skein-source --import tsx examples/coordination-cluster.ts
 *
 * In production each member is `skein server --name a --initial-cluster a=...,b=...,c=...
 * --cluster-secret-file secret` on its own machine (docs/server.md). Exits 0 when every step
 * behaved as described.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type WatchEvent } from 'skein/client';
import { silentLogger } from 'skein/core';
import { resolveServerConfig, startServer, type SkeinServer } from 'skein/server';

setTimeout(() => {
  console.error('coordination-cluster: did not finish within 18 s');
  process.exit(1);
}, 18_000).unref();

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A free loopback port: --initial-cluster needs every peer address before any member starts. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  });
}

// --- 1. Three members bootstrapped with the same --initial-cluster and cluster secret ------------
const names = ['a', 'b', 'c'];
const peerPorts = await Promise.all(names.map(() => freePort()));
const initialCluster = names.map((n, i) => `${n}=127.0.0.1:${peerPorts[i]}`).join(',');
// The secret authenticates peers to each other; every member needs the same one.
const env = { SKEIN_CLUSTER_SECRET: randomBytes(32).toString('hex') };
const root = mkdtempSync(join(tmpdir(), 'skein-cluster-example-'));
const servers = new Map<string, SkeinServer>();
await Promise.all(
  names.map(async (name, i) => {
    const config = resolveServerConfig(
      {
        name,
        dataDir: join(root, name),
        listenClient: '127.0.0.1:0',
        listenPeer: `127.0.0.1:${peerPorts[i]}`,
        initialCluster,
        tickMs: '50', // election timeout 10 ticks = 500 ms, for a quick example
      },
      env,
    );
    servers.set(name, await startServer(config, { logger: silentLogger }));
  }),
);
const urls = [...servers.values()].map((s) => s.clientUrl);
const anyServer = servers.get('a')!;
// Ready once a leader is elected and every member has published its client URL.
await waitFor('a leader and published client URLs', () => {
  const s = anyServer.status();
  return s.leader !== null && s.members.every((m) => m.clientUrl !== '');
});
console.log(`three members up: ${urls.join(' ')}`);

// --- 2. A client that knows all three; it prefers the leader -------------------------------------
const client = await connect({ endpoints: urls });
const before = await client.status();
assert.ok(before.leader !== null);
const oldLeader = servers.get(before.leader)!;
console.log(`leader: ${before.leader}; the client sends to ${client.endpoint}`);

// --- 3. A watch, a write, then the leader shuts down --------------------------------------------
const seen: WatchEvent[] = [];
const watch = await client.watch(
  { key: 'orders/', prefix: true },
  {
    onResponse: (r) => seen.push(...r.events),
    onError: (error) => {
      console.error('watch failed:', error);
      process.exit(1);
    },
  },
);
await client.put({ key: 'orders/1', value: 'paid' });
await waitFor('the watch to see orders/1', () => seen.length === 1);

// Graceful: refuse new requests, end watches, hand leadership to the most up-to-date voter.
await oldLeader.close('example: leader leaves');
servers.delete(oldLeader.name);
console.log(`${oldLeader.name} shut down`);

// --- 4. The same client keeps working: reads fail over, the watch resumes elsewhere --------------
await waitFor('a new leader', async () => {
  const s = await client.status();
  return s.leader !== null && s.leader !== oldLeader.name;
});
const after = await client.status();
console.log(`new leader: ${after.leader}; the client sends to ${client.endpoint}`);
await client.put({ key: 'orders/2', value: 'paid' });
assert.equal((await client.get('orders/1'))?.value, 'paid'); // nothing acknowledged was lost
await waitFor('the watch to see orders/2', () => seen.length >= 2);
await new Promise((resolve) => setTimeout(resolve, 200)); // would a duplicate show up?
assert.deepEqual(
  seen.map((e) => `${e.type} ${e.kv.key}`),
  ['put orders/1', 'put orders/2'],
);
console.log(`watch saw, exactly once each: ${seen.map((e) => `${e.kv.key}@${e.kv.modRevision}`).join(', ')}`);

// --- 5. Close everything -------------------------------------------------------------------------
await watch.cancel();
await client.close();
await Promise.all([...servers.values()].map((s) => s.close()));
rmSync(root, { recursive: true, force: true });
console.log('done');
