import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatChaosKvReport, runChaosKv } from './chaos-kv/run-chaos-kv.ts';

// Real `skein server` processes, peer traffic behind the fault proxy (test/chaos-kv). The long
// runs are `npm run chaos:kv -- --kills N`; here one short run: SIGTERM of the leader (leadership
// transfer), kill -9, with
// concurrent clients, then the linearizability check and the lost-write check.

const seed = Number(process.env['SKEIN_SEED'] ?? 20261121);

test('3 skein servers under a leader SIGTERM (transfer) and kill -9: linearizable put/get/CAS/delete, no acknowledged write lost', async () => {
  const lines: string[] = [];
  const report = await runChaosKv({
    members: 3,
    seed,
    kills: 1,
    clients: 6,
    registerKeys: 6,
    log: (line) => lines.push(line),
  });
  const text = `${lines.join('\n')}\n${formatChaosKvReport(report)}`;
  assert.deepEqual(report.problems, [], text);
  assert.equal(report.verdict, 'ok', text);
  assert.equal(report.nemesis.kills, 1, text);
  assert.equal(report.nemesis.transfers, 1, text);
  assert.ok(report.acknowledgedWrites >= 50, `clients got writes through:\n${text}`);
});
