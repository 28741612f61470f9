import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Random } from '../core/random.ts';
import { NodeDisk, type DiskIO } from './disk.ts';
import { FileStorage } from './file-storage.ts';
import { MemoryStorage } from './memory-storage.ts';
import { SimDisk } from './sim-disk.ts';
import { normalizeState } from './test-support.ts';
import { applyToModel, chunked, concretize, workloadOp, type WorkloadOp } from './test-workload.ts';
import type { RaftStorage } from './types.ts';

async function snapshotBytes(storage: RaftStorage): Promise<string | null> {
  const reader = await storage.openSnapshot();
  if (reader === null) return null;
  const parts: Uint8Array[] = [];
  for await (const chunk of reader.chunks(999)) parts.push(chunk);
  return Buffer.concat(parts).toString('hex');
}

async function assertSame(file: FileStorage, model: MemoryStorage, when: string): Promise<void> {
  assert.deepStrictEqual(normalizeState(await file.load()), normalizeState(model.load()), when);
  assert.equal(await snapshotBytes(file), await snapshotBytes(model), `snapshot data ${when}`);
}

/** Run `ops` against FileStorage on `disk` and against MemoryStorage; their loads must agree. */
async function runModel(disk: DiskIO, dir: string, ops: readonly WorkloadOp[]): Promise<void> {
  const open = () =>
    new FileStorage(dir, { disk, nodeId: 'n1', maxSegmentBytes: 400, snapshotChunkBytes: 500 });
  const model = new MemoryStorage();
  let file = open();
  await file.load();
  for (const [i, op] of ops.entries()) {
    const step = concretize(op, model);
    if (step === null) continue;
    if (step.kind === 'restart') {
      await file.close();
      file = open();
      await assertSame(file, model, `after restart at op ${i}`);
      continue;
    }
    if (step.kind === 'persist') await file.persist(step.batch);
    else {
      await file.saveSnapshot(step.meta, chunked(step.data));
      if (step.compact) await file.compact(step.meta.index);
    }
    await applyToModel(model, step);
  }
  await file.close();
  const reopened = open();
  await assertSame(reopened, model, 'at the end');
  await reopened.close();
}

test('FileStorage on SimDisk recovers exactly what MemoryStorage holds (model-based)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(workloadOp, { maxLength: 40 }), async (ops) => {
      await runModel(new SimDisk({ random: new Random(1) }), '/data/n1', ops);
    }),
    { numRuns: 300 },
  );
});

test('FileStorage on the real file system recovers exactly what MemoryStorage holds', async () => {
  const root = await mkdtemp(join(tmpdir(), 'skein-storage-model-'));
  let run = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(workloadOp, { maxLength: 25 }), async (ops) => {
        await runModel(new NodeDisk(), join(root, `run-${run++}`), ops);
      }),
      { numRuns: 12 },
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
