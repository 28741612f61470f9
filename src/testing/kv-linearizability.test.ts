import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomKvSchedule } from './kv-schedule.ts';

// skein/kv on the simulator: 3 or 5 RaftNodes, each with a real KvStore, under random crashes,
// partitions, loss, duplication, leadership transfers, snapshots and compactions. Every history
// must be linearizable (put / get / CAS txn / delete / multi-key txn / prefix range / prefix
// delete) and members must agree on revision and snapshot bytes at every log index.
//
// The seeds run in a child process (kv-sim-main.ts): node:test's promise tracking slows the
// simulator about threefold. SKEIN_KV_SEEDS=n runs more; SKEIN_SEED=n replays one in-process.
// SKEIN_KV_SNAPSHOT_CHUNK_BYTES=64 forces tiny InstallSnapshot chunks; known issue: with them a
// few seeds (8, 31, 48, 86, 111, 147) end with a follower whose snapshot transfer never completes:
// SnapshotSender.#resumeFrom resets the stream while #pump is still reading it, so chunks go out
// with data that does not belong at their offset (src/raft/snapshot-transfer.ts; reported).

const chunk = process.env['SKEIN_KV_SNAPSHOT_CHUNK_BYTES'];

test('kv: linearizable and members agree under random fault schedules (seeded; replay with SKEIN_SEED)', async () => {
  const only = process.env['SKEIN_SEED'];
  if (only !== undefined && only !== '') {
    const stats = await randomKvSchedule(
      Number(only),
      chunk === undefined ? {} : { snapshotChunkBytes: Number(chunk) },
    );
    console.log(JSON.stringify(stats));
    return;
  }
  const seeds = process.env['SKEIN_KV_SEEDS'] ?? '100';
  const script = fileURLToPath(new URL('./kv-sim-main.ts', import.meta.url));
  const args = ['--seeds', seeds, ...(chunk === undefined ? [] : ['--chunk-bytes', chunk])];
  const result = spawnSync(
    process.execPath,
    ['--conditions=skein-source', '--import', 'tsx', script, ...args],
    {
      encoding: 'utf8',
      timeout: 15 * 60 * 1000,
    },
  );
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, 0, `simulation failed:\n${output.slice(-4000)}`);
  const summaryLine = result.stdout.split('\n').find((line) => line.startsWith('{'));
  assert.ok(summaryLine !== undefined, output);
  const s = JSON.parse(summaryLine) as Record<string, number>;
  console.log(summaryLine);
  assert.equal(s['seeds'], Number(seeds));
  assert.equal(s['undecided'], 0, 'the checker decided every history');
  // The runs exercised what they claim to.
  assert.ok(s['crashes']! > 0 && s['partitions']! > 0 && s['transfers']! > 0, summaryLine);
  assert.ok(s['runsWithSnapshots']! > Number(seeds) / 2, `most runs snapshotted: ${summaryLine}`);
  assert.ok(s['indeterminate']! > 0, `some operations timed out: ${summaryLine}`);
});

// Regressions: members diverged when a duplicated proposal met a member whose dedupe window had
// been emptied by a snapshot install or a restart (the window now travels in the snapshot).
test('kv: a duplicated proposal is skipped alike by members that installed a snapshot (seeds 309, 461, 474)', async () => {
  for (const seed of [309, 461, 474]) {
    try {
      await randomKvSchedule(seed, {});
    } catch (error) {
      throw new Error(`seed ${seed} failed (replay: SKEIN_SEED=${seed}): ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
});
