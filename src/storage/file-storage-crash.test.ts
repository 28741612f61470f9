import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Random } from '../core/random.ts';
import { FileStorage } from './file-storage.ts';
import { MemoryStorage } from './memory-storage.ts';
import { SimDisk, SimDiskCrashed } from './sim-disk.ts';
import { normalizeState } from './test-support.ts';
import { applyToModel, chunked, concretize, workloadOp, type WorkloadStep } from './test-workload.ts';
import type { RaftStorage } from './types.ts';

/**
 * Crash at every write boundary: for a recorded sequence of batches and snapshots, crash the
 * simulated disk after its k-th operation for every k, with and without tearing the last write.
 * Recovery must give exactly the state after some prefix of the sequence that contains every
 * acknowledged step (nothing acknowledged is lost, nothing half-applied or made up), and the
 * recovered storage must then carry on to the same final state.
 */

const dir = '/data/n1';
const open = (disk: SimDisk) =>
  new FileStorage(dir, { disk, nodeId: 'n1', maxSegmentBytes: 500, snapshotChunkBytes: 400 });

async function observe(storage: RaftStorage): Promise<string> {
  const state = normalizeState(await storage.load());
  const reader = await storage.openSnapshot();
  const parts: Uint8Array[] = [];
  if (reader !== null) for await (const chunk of reader.chunks(1000)) parts.push(chunk);
  return JSON.stringify({ state, data: Buffer.concat(parts).toString('hex') });
}

async function execute(storage: FileStorage, step: WorkloadStep): Promise<void> {
  if (step.kind === 'persist') await storage.persist(step.batch);
  else if (step.kind === 'snapshot') {
    await storage.saveSnapshot(step.meta, chunked(step.data));
    if (step.compact) await storage.compact(step.meta.index);
  }
}

function isCrash(error: unknown): boolean {
  return error instanceof SimDiskCrashed || (error instanceof Error && error.cause instanceof SimDiskCrashed);
}

/** The steps of a sequence and the model's observable state after each prefix. */
async function plan(seed: number): Promise<{ steps: WorkloadStep[]; states: string[] }> {
  const [ops] = fc.sample(fc.array(workloadOp, { minLength: 25, maxLength: 25 }), { seed, numRuns: 1 });
  const model = new MemoryStorage();
  const steps: WorkloadStep[] = [];
  const states = [await observe(model)];
  for (const op of ops!) {
    const step = concretize(op, model);
    if (step === null || step.kind === 'restart') continue;
    steps.push(step);
    await applyToModel(model, step);
    states.push(await observe(model));
  }
  return { steps, states };
}

async function crashAt(k: number, tear: boolean, steps: readonly WorkloadStep[], states: readonly string[]) {
  const disk = new SimDisk({ random: new Random(k * 2 + (tear ? 1 : 0)) });
  disk.crashAfterOps = k;
  let acked = 0;
  try {
    const storage = open(disk);
    await storage.load();
    for (const step of steps) {
      await execute(storage, step);
      acked++;
    }
  } catch (error) {
    if (!isCrash(error)) throw error;
  }
  disk.crash({ tear });
  const recovered = open(disk);
  const seen = await observe(recovered);
  const prefix = states.findIndex((s, p) => p >= acked && s === seen);
  assert.ok(
    prefix >= 0,
    `crash after op ${k} (tear ${tear}): ${acked} steps acknowledged, recovered ${seen}`,
  );
  for (const step of steps.slice(prefix)) await execute(recovered, step);
  await recovered.close();
  assert.equal(await observe(open(disk)), states.at(-1), `after crash at op ${k} and carrying on`);
  return acked;
}

for (const seed of [1, 2, 3, 4]) {
  test(`crash after every disk operation, with and without a torn write (sequence ${seed})`, async () => {
    const { steps, states } = await plan(seed);
    const reference = new SimDisk({ random: new Random(0) });
    const storage = open(reference);
    await storage.load();
    for (const step of steps) await execute(storage, step);
    const totalOps = reference.opCount;
    assert.ok(totalOps > steps.length, 'the sequence does some disk work');
    let lastAcked = -1;
    for (let k = 0; k <= totalOps; k++) {
      for (const tear of [false, true]) {
        const acked = await crashAt(k, tear, steps, states);
        assert.ok(acked >= lastAcked || tear, 'more operations never acknowledge less');
        if (!tear) lastAcked = acked;
      }
    }
    assert.equal(lastAcked, steps.length, 'without a crash every step is acknowledged');
  });
}
