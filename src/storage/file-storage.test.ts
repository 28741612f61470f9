import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { hasCode } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { EntryKind, type Entry } from '../raft/types.ts';
import { writeThenSync, type DiskFile, type DiskIO } from './disk.ts';
import { StorageErrorCode } from './errors.ts';
import { FileStorage, FileStorageDefaults, type FileStorageOptions } from './file-storage.ts';
import { SimDisk, SimDiskCrashed } from './sim-disk.ts';
import { capturingLogger } from './test-support.ts';
import { chunked } from './test-workload.ts';
import type { PersistBatch } from './types.ts';
import { readRecord } from './wal-record.ts';

const dir = '/data/n1';
const segment1 = `${dir}/wal-0000000000000001.log`;

function entries(from: number, n: number, bytes = 64): Entry[] {
  return Array.from({ length: n }, (_, i) => ({
    index: from + i,
    term: 1,
    kind: EntryKind.Normal,
    data: new Uint8Array(bytes).fill((from + i) % 256),
  }));
}

function batch(from: number, n: number, commit = 0): PersistBatch {
  return {
    reset: false,
    truncateFrom: null,
    entries: entries(from, n),
    hardState: { term: 1, vote: 'n1', commit, clusterId: 'c1' },
  };
}

async function opened(disk: DiskIO, options: Partial<FileStorageOptions> = {}): Promise<FileStorage> {
  const storage = new FileStorage(dir, { disk, nodeId: 'n1', ...options });
  await storage.load();
  return storage;
}

/** Offsets at which the records of `bytes` start. */
function recordOffsets(bytes: Uint8Array): number[] {
  const offsets: number[] = [];
  for (let at = 0; at < bytes.byteLength;) {
    const r = readRecord(bytes, at);
    if (typeof r === 'string') break;
    offsets.push(at);
    at = r.next;
  }
  return offsets;
}

/** Where the record at `offset` of `bytes` ends. */
function recordEnd(bytes: Uint8Array, offset: number): number {
  const record = readRecord(bytes, offset);
  assert.ok(typeof record !== 'string', `no record at ${offset}`);
  return record.next;
}

test('a flipped bit in the middle of a segment stops recovery, naming the file and the offset', async () => {
  const disk = new SimDisk({ random: new Random(7) });
  const storage = await opened(disk);
  for (let i = 0; i < 5; i++) await storage.persist(batch(i * 4 + 1, 4));
  await storage.close();
  const offsets = recordOffsets(disk.contents(segment1)!);
  const victim = offsets[6]!; // an entry of the second batch, well before the tail
  disk.flipBit(segment1, victim + 20);
  await assert.rejects(new FileStorage(dir, { disk, nodeId: 'n1' }).load(), (error: unknown) => {
    assert.ok(hasCode(error, StorageErrorCode.Corrupt));
    assert.equal(error.details!['file'], segment1);
    assert.equal(error.details!['offsetBytes'], victim);
    assert.match(error.message, /wal-0000000000000001\.log is corrupt at byte offset \d+/);
    assert.match(error.message, /catches up from its peers/);
    return true;
  });
});

test('a flipped bit in an unacknowledged torn tail is truncated, with a log line', async () => {
  const disk = new SimDisk({ random: new Random(3) });
  // Without preallocation, so that the torn write shows as bytes past the durable end.
  const storage = await opened(disk, { preallocateBytes: 0 });
  await storage.persist(batch(1, 4, 2));
  const durableBytes = disk.contents(segment1)!.byteLength;
  disk.crashAfterOps = disk.opCount + 1; // the next write lands, its fdatasync never happens
  await assert.rejects(Promise.resolve(storage.persist(batch(5, 20))));
  disk.crash({ tear: true });
  assert.ok(disk.contents(segment1)!.byteLength > durableBytes, 'part of the torn write survived');
  disk.flipBit(segment1, undefined, durableBytes);
  const { logger, lines } = capturingLogger();
  const recovered = await new FileStorage(dir, { disk, nodeId: 'n1', logger }).load();
  assert.deepEqual(
    recovered.entries.map((e) => e.index),
    [1, 2, 3, 4],
  );
  assert.equal(recovered.hardState.commit, 2);
  assert.ok(lines.some((l) => l.msg.includes('torn WAL tail')));
  assert.equal(disk.contents(segment1)!.byteLength, durableBytes, 'the tail was cut off on disk');
});

test('a missing segment in the middle is corruption, not a shorter log', async () => {
  const disk = new SimDisk({ random: new Random(1) });
  const storage = await opened(disk, { maxSegmentBytes: 300 });
  for (let i = 0; i < 12; i++) await storage.persist(batch(i * 2 + 1, 2));
  await storage.close();
  await disk.unlink(`${dir}/wal-0000000000000002.log`);
  await assert.rejects(
    opened(disk),
    (e: unknown) => hasCode(e, StorageErrorCode.Corrupt) && /missing/.test(e.message),
  );
});

test('persist resolves only after the fdatasync that covers its bytes, one fdatasync per batch', async () => {
  const events: string[] = [];
  const gate = { holding: false, release: (): void => undefined };
  const sim = new SimDisk({ random: new Random(1) });
  // A spy around the disk: records writes and syncs, and can hold an fdatasync back.
  const spy: DiskIO = {
    mkdir: (d) => sim.mkdir(d),
    list: (d) => sim.list(d),
    openRead: (p) => sim.openRead(p),
    rename: (a, b) => sim.rename(a, b),
    unlink: (p) => sim.unlink(p),
    fsyncDir: (d) => sim.fsyncDir(d).then(() => void events.push('fsyncDir')),
    open: async (p, mode): Promise<DiskFile> => {
      const file = await sim.open(p, mode);
      const spied: DiskFile = {
        write: (data, position) => file.write(data, position).then(() => void events.push(`write ${p}`)),
        datasync: async () => {
          if (gate.holding) {
            await new Promise<void>((release) => {
              gate.release = release;
            });
          }
          await file.datasync();
          events.push(`datasync ${p}`);
        },
        writeAndSync: (data, position) => writeThenSync(spied, data, position),
        truncate: (n) => file.truncate(n).then(() => void events.push(`truncate ${p}`)),
        close: () => file.close(),
      };
      return spied;
    },
  };
  const storage = await opened(spy, { maxSegmentBytes: 400 });
  events.length = 0;
  for (let i = 0; i < 8; i++) {
    await storage.persist(batch(i * 3 + 1, 3));
    events.push('ack');
  }
  // Between two acks: the batch's writes, then exactly one fdatasync of the file written. A batch
  // that starts a new segment first cuts the preallocated zeros off the one it closes, and syncs
  // that cut before the new segment exists.
  const perBatch = events
    .join('\n')
    .split('ack\n')
    .concat()
    .map((s) => s.split('\n').filter(Boolean));
  for (const ops of perBatch.filter((o) => o.length > 0)) {
    const writes = ops.filter((o) => o.startsWith('write'));
    const written = writes.at(-1)!.slice(6);
    const syncs = ops.filter((o) => o === `datasync ${written}`);
    assert.equal(syncs.length, 1, `one fdatasync per batch: ${ops.join(', ')}`);
    assert.ok(ops.lastIndexOf(writes.at(-1)!) < ops.indexOf(syncs[0]!), 'the sync follows the last write');
    const others = ops.filter((o) => o.startsWith('datasync') && o !== syncs[0]);
    for (const other of others) {
      const closed = other.slice(9);
      assert.ok(
        ops.indexOf(`truncate ${closed}`) < ops.indexOf(other),
        `${other} follows a cut: ${ops.join(', ')}`,
      );
      assert.ok(
        ops.indexOf(other) < ops.indexOf(`write ${written}`),
        'the cut is durable before the new segment is written',
      );
    }
  }
  assert.ok(events.includes('fsyncDir'), 'segment rotation happened and fsynced the directory');
  // And with the fdatasync held back, the persist stays pending.
  gate.holding = true;
  let done = false;
  const pending = Promise.resolve(storage.persist(batch(25, 1))).then(() => (done = true));
  for (let i = 0; i < 20; i++) await Promise.resolve();
  assert.equal(done, false, 'acknowledged before its fdatasync');
  gate.holding = false;
  gate.release();
  await pending;
  assert.equal(done, true);
});

test('on the real disk, persist has written its batch before it returns, so what the caller does next overlaps the fdatasync', async () => {
  const root = await mkdtemp(join(tmpdir(), 'skein-storage-sync-start-'));
  try {
    const storage = new FileStorage(root, { nodeId: 'n1' });
    await storage.load();
    const segment = join(root, 'wal-0000000000000001.log');
    const before = readFileSync(segment);
    const written = storage.persist(batch(1, 2));
    // No await yet: the bytes are in the file already (the fdatasync runs in libuv's pool). This
    // first batch also writes the preallocated zeros after it: still one write on this thread.
    assert.ok(!readFileSync(segment).equals(before), 'the write was left for a later turn');
    await written;
    assert.ok(statSync(segment).size >= FileStorageDefaults.preallocateBytes, 'zeros were preallocated');
    // While one write is in flight the next waits its turn, as before.
    const first = storage.persist(batch(3, 1));
    const second = storage.persist(batch(4, 1));
    const afterFirst = readFileSync(segment);
    await Promise.all([first, second]);
    assert.ok(!readFileSync(segment).equals(afterFirst), 'the queued batch was written after the first');
    await storage.close();
    const reopened = new FileStorage(root, { nodeId: 'n1' });
    const recovered = await reopened.load();
    assert.deepEqual(
      recovered.entries.map((e) => e.index),
      [1, 2, 3, 4],
    );
    await reopened.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('appends overwrite preallocated zeros; recovery keeps them without calling them torn, and appends go on in place', async () => {
  const disk = new SimDisk({ random: new Random(11) });
  const storage = await opened(disk, { preallocateBytes: 4096 });
  await storage.persist(batch(1, 2, 1));
  const fileBytes = disk.contents(segment1)!.byteLength;
  const logEnd = (): number =>
    recordEnd(disk.contents(segment1)!, recordOffsets(disk.contents(segment1)!).at(-1)!);
  assert.equal(fileBytes, logEnd() + 4096, 'the first batch is followed by 4096 zeros');
  for (let i = 0; i < 5; i++) await storage.persist(batch(3 + i * 2, 2, 2));
  assert.equal(disk.contents(segment1)!.byteLength, fileBytes, 'the next batches went into the zeros');
  assert.ok(
    disk
      .contents(segment1)!
      .subarray(logEnd())
      .every((b) => b === 0),
  );
  await storage.close();
  disk.crash();
  const { logger, lines } = capturingLogger();
  const reopened = await opened(disk, { preallocateBytes: 4096, logger });
  assert.ok(!lines.some((l) => l.msg.includes('torn')), 'zeros are not a torn tail');
  assert.equal(disk.contents(segment1)!.byteLength, fileBytes, 'recovery left the zeros in place');
  await reopened.persist(batch(13, 2, 3));
  assert.equal(disk.contents(segment1)!.byteLength, fileBytes, 'appends after the restart go into the zeros');
  await reopened.close();
  const again = new FileStorage(dir, { disk, nodeId: 'n1', preallocateBytes: 4096 });
  const recovered = await again.load();
  assert.deepEqual(
    recovered.entries.map((e) => e.index),
    Array.from({ length: 14 }, (_, i) => i + 1),
  );
  // Past the zeros, a batch brings the next stretch with it.
  const big: PersistBatch = { ...batch(15, 1, 3), entries: entries(15, 1, 5000) };
  await again.persist(big);
  assert.ok(disk.contents(segment1)!.byteLength > fileBytes + 5000);
  assert.ok(
    disk
      .contents(segment1)!
      .subarray(logEnd())
      .every((b) => b === 0),
  );
});

test('a batch that starts a new segment first cuts the zeros off the one it closes', async () => {
  const disk = new SimDisk({ random: new Random(12) });
  const storage = await opened(disk, { maxSegmentBytes: 600, preallocateBytes: 600 });
  for (let i = 0; i < 12; i++) await storage.persist(batch(i * 2 + 1, 2));
  await storage.close();
  const segments = (await disk.list(dir)).filter((n) => n.startsWith('wal-')).sort();
  assert.ok(segments.length >= 3, `rotated: ${segments.join(', ')}`);
  for (const name of segments.slice(0, -1)) {
    const bytes = disk.contents(`${dir}/${name}`)!;
    assert.equal(
      recordEnd(bytes, recordOffsets(bytes).at(-1)!),
      bytes.byteLength,
      `${name} ends at its last batch`,
    );
  }
  const last = disk.contents(`${dir}/${segments.at(-1)!}`)!;
  assert.ok(
    last.byteLength > recordEnd(last, recordOffsets(last).at(-1)!),
    'the last segment keeps its zeros',
  );
});

test('on a full disk, preallocation steps aside: the zeros already there take writes, and a batch that fits goes in without new ones', async () => {
  const disk = new SimDisk({ random: new Random(13) });
  const storage = await opened(disk, { preallocateBytes: 2000 });
  await storage.persist(batch(1, 2, 1));
  disk.capacityBytes = disk.usedBytes(); // not one byte free
  await storage.persist(batch(3, 10, 2)); // 10 × ~80 bytes: inside the zeros
  // The next batch runs past the zeros: room for it, but not for 2000 more zeros after it.
  disk.capacityBytes = disk.usedBytes() + 1500;
  await assert.rejects(Promise.resolve(storage.persist(batch(13, 20, 3))), (e: unknown) =>
    hasCode(e, StorageErrorCode.Full),
  );
  await storage.persist(batch(13, 20, 3)); // the retry appends it without zeros
  await storage.close();
  disk.capacityBytes = Number.POSITIVE_INFINITY;
  const recovered = await new FileStorage(dir, { disk, nodeId: 'n1' }).load();
  assert.deepEqual(
    recovered.entries.map((e) => e.index),
    Array.from({ length: 32 }, (_, i) => i + 1),
  );
  assert.equal(recovered.hardState.commit, 3);
});

test('on a full disk, a batch that starts a new segment also goes in without zeros on its retry', async () => {
  const disk = new SimDisk({ random: new Random(14) });
  const storage = await opened(disk, { maxSegmentBytes: 600, preallocateBytes: 600 });
  let next = 1;
  while ((await disk.list(dir)).filter((n) => n.startsWith('wal-')).length < 2) {
    await storage.persist(batch(next, 2, next));
    next += 2;
  }
  // Fill the second segment up to maxSegmentBytes: the next batch starts the third.
  const segment2 = `${dir}/wal-0000000000000002.log`;
  const logEnd = (): number =>
    recordEnd(disk.contents(segment2)!, recordOffsets(disk.contents(segment2)!).at(-1)!);
  while (logEnd() < 600) {
    await storage.persist(batch(next, 2, next));
    next += 2;
  }
  // Room for the new segment's header and batch (after the closed one's zeros are cut), not for
  // 600 zeros after them.
  const freed = disk.contents(segment2)!.byteLength - logEnd();
  disk.capacityBytes = disk.usedBytes() - freed + 400;
  await assert.rejects(Promise.resolve(storage.persist(batch(next, 2, next))), (e: unknown) =>
    hasCode(e, StorageErrorCode.Full),
  );
  await storage.persist(batch(next, 2, next));
  assert.ok(disk.contents(`${dir}/wal-0000000000000003.log`) !== null, 'a third segment was started');
  await storage.close();
  disk.capacityBytes = Number.POSITIVE_INFINITY;
  const recovered = await new FileStorage(dir, { disk, nodeId: 'n1' }).load();
  assert.deepEqual(
    recovered.entries.map((e) => e.index),
    Array.from({ length: next + 1 }, (_, i) => i + 1),
  );
});

test('a data directory of another node or another cluster is refused', async () => {
  const disk = new SimDisk({ random: new Random(1) });
  const storage = await opened(disk, { clusterId: 'c1' });
  await storage.persist(batch(1, 1));
  await storage.close();
  await assert.rejects(new FileStorage(dir, { disk, nodeId: 'n2' }).load(), (e: unknown) => {
    assert.ok(hasCode(e, StorageErrorCode.Identity));
    assert.match(e.message, /\/data\/n1 belongs to node n1, not to node n2/);
    return true;
  });
  await assert.rejects(
    new FileStorage(dir, { disk, nodeId: 'n1', clusterId: 'other' }).load(),
    (e: unknown) =>
      hasCode(e, StorageErrorCode.Identity) && /belongs to cluster c1, not to cluster other/.test(e.message),
  );
  assert.equal((await opened(disk, { clusterId: 'c1' })).constructor, FileStorage);
});

test('a full disk refuses writes with SKEIN_STORAGE_FULL, keeps the log intact, and recovers', async () => {
  const disk = new SimDisk({ random: new Random(1) });
  // Without preallocation: preallocated zeros would take the batch (the test after the next).
  const storage = await opened(disk, { maxSegmentBytes: 2000, preallocateBytes: 0 });
  await storage.persist(batch(1, 4, 1));
  disk.capacityBytes = disk.usedBytes() + 500; // room for part of the next batch only
  await assert.rejects(Promise.resolve(storage.persist(batch(5, 10))), (e: unknown) => {
    assert.ok(hasCode(e, StorageErrorCode.Full));
    assert.match(e.message, /Free disk space/);
    return true;
  });
  // Still full: a retry fails the same way, and does not damage anything either.
  await assert.rejects(Promise.resolve(storage.persist(batch(5, 10))), (e: unknown) =>
    hasCode(e, StorageErrorCode.Full),
  );
  disk.capacityBytes = Number.POSITIVE_INFINITY;
  await storage.persist(batch(5, 10, 9)); // space is back: the same batch goes through
  for (let i = 0; i < 10; i++) await storage.persist(batch(15 + i * 3, 3)); // and rotation works
  await storage.close();
  const recovered = await new FileStorage(dir, { disk, nodeId: 'n1' }).load();
  assert.deepEqual(
    recovered.entries.map((e) => e.index),
    Array.from({ length: 44 }, (_, i) => i + 1),
  );
});

test('a crash while the disk is full recovers the acknowledged log', async () => {
  const disk = new SimDisk({ random: new Random(5) });
  const storage = await opened(disk, { preallocateBytes: 0 });
  await storage.persist(batch(1, 3, 1));
  disk.capacityBytes = disk.usedBytes() + 300;
  await assert.rejects(Promise.resolve(storage.persist(batch(4, 10))), (e: unknown) =>
    hasCode(e, StorageErrorCode.Full),
  );
  disk.crash({ tear: true });
  disk.capacityBytes = Number.POSITIVE_INFINITY;
  const recovered = await new FileStorage(dir, { disk, nodeId: 'n1' }).load();
  assert.deepEqual(
    recovered.entries.map((e) => e.index),
    [1, 2, 3],
  );
});

test('an entry larger than maxRecordBytes is refused before anything is written', async () => {
  const disk = new SimDisk({ random: new Random(1) });
  const storage = await opened(disk, { maxRecordBytes: 1000 });
  const before = disk.opCount;
  const big: PersistBatch = {
    reset: false,
    truncateFrom: null,
    hardState: null,
    entries: entries(1, 1, 2000),
  };
  await assert.rejects(Promise.resolve(storage.persist(big)), (e: unknown) => {
    assert.ok(hasCode(e, StorageErrorCode.RecordTooLarge));
    assert.match(e.message, /entry 1 takes \d+ bytes, more than maxRecordBytes \(1000\)/);
    return true;
  });
  assert.equal(disk.opCount, before);
  await storage.persist(batch(1, 1));
});

test('storage used before load() or after close() says so', async () => {
  const disk = new SimDisk({ random: new Random(1) });
  const storage = new FileStorage(dir, { disk, nodeId: 'n1' });
  assert.throws(
    () => storage.persist(batch(1, 1)),
    (e: unknown) => hasCode(e, StorageErrorCode.Closed),
  );
  await storage.load();
  await storage.close();
  assert.throws(
    () => storage.persist(batch(1, 1)),
    (e: unknown) => hasCode(e, StorageErrorCode.Closed),
  );
});

test('snapshots: the previous one survives a failed save; a damaged chunk is caught while streaming', async () => {
  const disk = new SimDisk({ random: new Random(1) });
  const storage = await opened(disk, { snapshotChunkBytes: 100 });
  await storage.persist(batch(1, 10));
  const config = { voters: { n1: 'a:1' }, outgoing: {}, learners: {}, removed: [] };
  const meta = { index: 5, term: 1, config, clusterId: 'c1', sizeBytes: 1000 };
  await storage.saveSnapshot(meta, chunked(new Uint8Array(1000).fill(7)));
  disk.capacityBytes = disk.usedBytes() + 200;
  await assert.rejects(
    storage.saveSnapshot({ ...meta, index: 8 }, chunked(new Uint8Array(1000))),
    (e: unknown) => hasCode(e, StorageErrorCode.Full),
  );
  disk.capacityBytes = Number.POSITIVE_INFINITY;
  assert.equal((await storage.openSnapshot())?.meta.index, 5);
  await storage.compact(9); // only up to the snapshot
  await storage.close();
  const recovered = await new FileStorage(dir, { disk, nodeId: 'n1' }).load();
  assert.equal(recovered.snapshot?.index, 5);
  assert.deepEqual(
    recovered.entries.map((e) => e.index),
    [6, 7, 8, 9, 10],
  );
  disk.flipBit(`${dir}/snapshot.snap`, 500);
  const again = await opened(disk);
  const reader = await again.openSnapshot();
  await assert.rejects(
    (async () => {
      for await (const chunk of reader!.chunks(300)) assert.ok(chunk.byteLength > 0);
    })(),
    (e: unknown) =>
      hasCode(e, StorageErrorCode.Corrupt) && /snapshot\.snap is corrupt at byte offset/.test(e.message),
  );
});

test('a flipped bit anywhere in a cleanly closed log is corruption, never a different log', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 8 }), async (seed, batches) => {
      const disk = new SimDisk({ random: new Random(seed) });
      const storage = await opened(disk, { maxSegmentBytes: 600 });
      for (let i = 0; i < batches; i++) await storage.persist(batch(i * 3 + 1, 3, i));
      await storage.close();
      const segments = (await disk.list(dir)).filter((n) => n.startsWith('wal-'));
      const victim = `${dir}/${segments[new Random(seed).int(segments.length)]!}`;
      const bytes = Uint8Array.from(disk.contents(victim)!); // as written, before the flip
      const lastCommit = recordOffsets(bytes).at(-1)!;
      const logEnd = recordEnd(bytes, lastCommit);
      const flipped = disk.flipBit(victim);
      try {
        const state = await new FileStorage(dir, { disk, nodeId: 'n1' }).load();
        assert.equal(victim, `${dir}/${segments.at(-1)!}`);
        // A flip in the preallocated zeros after the log loses nothing.
        if (flipped >= logEnd) {
          assert.equal(state.entries.length, batches * 3);
          return;
        }
        // The only damage recovery cannot tell from a torn write: the final Commit record of the log.
        assert.ok(
          flipped >= lastCommit,
          `silently accepted a flip at ${flipped} (last commit at ${lastCommit})`,
        );
        assert.equal(state.entries.length, (batches - 1) * 3);
      } catch (error) {
        if (!hasCode(error, StorageErrorCode.Corrupt)) throw error;
      }
    }),
    { numRuns: 200 },
  );
});

test('a write cut short by a full disk, then a reset: a crash at any step recovers one state or the other', async () => {
  const isCrash = (e: unknown) =>
    e instanceof SimDiskCrashed || (e instanceof Error && e.cause instanceof SimDiskCrashed);
  const resetBatch: PersistBatch = {
    reset: true,
    truncateFrom: null,
    entries: entries(1, 2),
    hardState: { term: 5, vote: null, commit: 0, clusterId: '' },
  };
  let sawReset = false;
  for (let extra = 0; extra < 16; extra++) {
    for (const tear of [false, true]) {
      const disk = new SimDisk({ random: new Random(extra) });
      const storage = await opened(disk, { preallocateBytes: 0 });
      await storage.persist(batch(1, 4, 1));
      disk.capacityBytes = disk.usedBytes() + 150;
      await assert.rejects(Promise.resolve(storage.persist(batch(5, 10))), (e: unknown) =>
        hasCode(e, StorageErrorCode.Full),
      );
      disk.capacityBytes = Number.POSITIVE_INFINITY;
      disk.crashAfterOps = disk.opCount + extra;
      let acked = false;
      try {
        await storage.persist(resetBatch);
        acked = true;
      } catch (error) {
        if (!isCrash(error)) throw error;
      }
      disk.crash({ tear });
      const state = await new FileStorage(dir, { disk, nodeId: 'n1' }).load();
      const terms = `${state.hardState.term}:${state.entries.map((e) => e.index).join(',')}`;
      if (acked) assert.equal(terms, '5:1,2', `after ${extra} operations`);
      else assert.ok(terms === '1:1,2,3,4' || terms === '5:1,2', `after ${extra} operations: ${terms}`);
      sawReset ||= acked;
    }
  }
  assert.ok(sawReset, 'some runs got through the reset');
});

test('after an I/O error that leaves the directory in doubt, snapshots and compaction are refused like appends', async () => {
  const sim = new SimDisk({ random: new Random(1) });
  let failFsyncDir = false;
  const renamed: string[] = [];
  const disk: DiskIO = {
    mkdir: (d) => sim.mkdir(d),
    list: (d) => sim.list(d),
    open: (p, mode) => sim.open(p, mode),
    openRead: (p) => sim.openRead(p),
    unlink: (p) => sim.unlink(p),
    rename: async (from, to) => {
      renamed.push(to);
      await sim.rename(from, to);
    },
    fsyncDir: async (d) => {
      if (failFsyncDir) throw Object.assign(new Error('simulated EIO'), { code: 'EIO' });
      await sim.fsyncDir(d);
    },
  };
  // Small segments, so that there is something to compact.
  const storage = await opened(disk, { maxSegmentBytes: 1024, preallocateBytes: 0 });
  for (let i = 0; i < 6; i++) await storage.persist(batch(1 + i * 10, 10));
  const config = { voters: { n1: 'a:1' }, outgoing: {}, learners: {}, removed: [] };
  const meta = { index: 40, term: 1, config, clusterId: 'c1', sizeBytes: 100 };
  await storage.saveSnapshot(meta, chunked(new Uint8Array(100).fill(7)));
  failFsyncDir = true;
  const isFailed = (e: unknown): boolean => hasCode(e, StorageErrorCode.Failed);
  // The first removal's directory fsync fails: which removals are durable is unknown now.
  await assert.rejects(storage.compact(40), isFailed);
  failFsyncDir = false;
  await assert.rejects(storage.compact(40), isFailed, 'compaction after the failure');
  await assert.rejects(async () => storage.persist(batch(61, 1)), isFailed, 'an append after the failure');
  const renamesBefore = renamed.length;
  await assert.rejects(
    storage.saveSnapshot({ ...meta, index: 50 }, chunked(new Uint8Array(100))),
    isFailed,
    'a snapshot after the failure',
  );
  assert.equal(renamed.length, renamesBefore, 'no snapshot was renamed into place');
  await storage.close();
  // A restart recovers everything that was acknowledged.
  const recovered = await new FileStorage(dir, { disk: sim, nodeId: 'n1' }).load();
  assert.equal(recovered.snapshot?.index, 40);
  assert.equal(recovered.entries.at(-1)?.index, 60);
});
