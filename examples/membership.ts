/**
 * Splitting work with skein/membership: three workers join the group "workers" on a one-member
 * coordinator, wait for the group to settle, and each takes the jobs it owns — every job exactly
 * once. Then one worker leaves; the other two settle again under a new generation and take over
 * its share.
 *
 *   node --conditions=skein-source --import tsx examples/membership.ts
 *
 * In production the coordinator is its own process (`npx skein server`, or a 3-member cluster),
 * and each worker is a process calling `joinGroup(await connect({ endpoints }), 'workers')`.
 * Exits 0 when every step behaved as described.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'skein/client';
import { silentLogger } from 'skein/core';
import { joinGroup, type GroupMember } from 'skein/membership';
import { resolveServerConfig, startServer } from 'skein/server';

setTimeout(() => {
  console.error('membership: did not finish within 15 s');
  process.exit(1);
}, 15_000).unref();

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// --- 1. A coordinator: the embedded one-member default, on free ports ----------------------------
const dataDir = mkdtempSync(join(tmpdir(), 'skein-membership-example-'));
const config = resolveServerConfig(
  { dataDir, listenClient: '127.0.0.1:0', listenPeer: '127.0.0.1:0', tickMs: '20' },
  {},
);
const server = await startServer(config, { logger: silentLogger });
const client = await connect({ endpoints: [server.clientUrl] });

// --- 2. Three workers join. The group settles 300 ms after the last join -------------------------
const options = { heartbeatIntervalMs: 250, settleMs: 300 };
const workers: GroupMember[] = [];
for (const name of ['alpha', 'beta', 'gamma']) {
  const worker = await joinGroup(client, 'workers', { ...options, memberId: name });
  worker.on('settled', ({ index, total, generation }) => {
    console.log(`${name}: I am ${index} of ${total} (generation ${generation})`);
  });
  workers.push(worker);
}
await waitFor('three settled workers', () => workers.every((w) => w.indexTotal()?.total === 3));

// --- 3. Each worker takes the jobs it owns: every job exactly once --------------------------------
const jobs = Array.from({ length: 30 }, (_, i) => `job-${i}`);
const share = (w: GroupMember): string[] => jobs.filter((job) => w.owns(job));
for (const job of jobs) assert.equal(workers.filter((w) => w.owns(job)).length, 1, `${job}: one owner`);
for (const w of workers) console.log(`${w.id} runs ${share(w).length} jobs (fencing token ${w.generation})`);

// --- 4. gamma leaves; alpha and beta settle again and split all 30 jobs ---------------------------
const [alpha, beta, gamma] = workers as [GroupMember, GroupMember, GroupMember];
const before = alpha.generation ?? 0;
await gamma.leave();
await waitFor('two settled workers', () => [alpha, beta].every((w) => w.indexTotal()?.total === 2));
assert.ok((alpha.generation ?? 0) > before, 'a new generation: work tagged with the old one is stale');
assert.equal(share(alpha).length + share(beta).length, jobs.length);
console.log(`after gamma left: alpha runs ${share(alpha).length}, beta runs ${share(beta).length}`);

// --- 5. What the coordinator shows (also: npx skein group show workers) --------------------------
const group = await client.getGroup('workers');
console.log(
  `group ${group?.name}: ${group?.state}, generation ${group?.generation}, members`,
  group?.members.map((m) => `${m.id}=${m.index}`).join(' '),
);

await alpha.leave();
await beta.leave();
await client.close();
await server.close();
rmSync(dataDir, { recursive: true, force: true });
console.log('done');
