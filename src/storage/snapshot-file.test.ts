import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../core/codec.ts';
import { hasCode } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { StorageErrorCode } from './errors.ts';
import { SimDisk } from './sim-disk.ts';
import { writeThenSync, type DiskFile, type DiskIO, type DiskReader } from './disk.ts';
import {
  readSnapshotChunks,
  readSnapshotMeta,
  snapshotSyncEveryBytes,
  snapshotWriteBufferBytes,
  writeSnapshotFile,
} from './snapshot-file.ts';
import type { SnapshotMeta } from './types.ts';
import { readRecordsFrom } from './record-reader.ts';
import { encodeRecord, readRecord, RecordType } from './wal-record.ts';

const path = '/data/snapshot.snap';
const config = { voters: { n1: 'a:1' }, outgoing: {}, learners: {}, removed: [] };
const meta: SnapshotMeta = { index: 7, term: 2, config, clusterId: 'c1', sizeBytes: -1 };

/** `bytes` of position-dependent data, so that a misplaced chunk would show. */
function pattern(bytes: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 31 + (i >>> 10)) & 0xff;
  return data;
}

async function* pieces(data: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < data.byteLength; i++) {
    const n = sizes[i % sizes.length]!;
    yield await Promise.resolve(data.subarray(at, at + n));
    at += n;
  }
}

async function readAll(disk: SimDisk, chunkBytes: number): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const c of readSnapshotChunks(disk, path, meta, chunkBytes)) out.push(c);
  return Buffer.concat(out);
}

test('a snapshot larger than both write buffers round-trips, whatever the piece and chunk sizes', async () => {
  const disk = new SimDisk({ random: new Random(1) });
  const data = pattern(2 * snapshotWriteBufferBytes + 123_457);
  const chunkBytes = 1024 * 1024;
  const size = await writeSnapshotFile(
    disk,
    path,
    { meta, epoch: 0 },
    pieces(data, [700_001, 3, 2_000_000]),
    chunkBytes,
  );
  assert.equal(size, data.byteLength);
  assert.equal((await readSnapshotMeta(disk, path))?.meta.sizeBytes, data.byteLength);
  assert.ok(Buffer.from(data).equals(await readAll(disk, chunkBytes)));
  assert.ok(Buffer.from(data).equals(await readAll(disk, 333_333)));
});

test('data records are CRC-32 (SnapshotData); a flipped bit or a retyped record is caught while streaming', async () => {
  const disk = new SimDisk({ random: new Random(2) });
  await writeSnapshotFile(disk, path, { meta, epoch: 0 }, pieces(pattern(5000), [5000]), 1000);
  const bytes = disk.contents(path)!;
  const first = readRecord(bytes, 0);
  assert.ok(typeof first !== 'string');
  const second = readRecord(bytes, first.next);
  assert.ok(typeof second !== 'string' && second.type === RecordType.SnapshotData);
  // The same bytes under the CRC-32C data type must fail their check, and vice versa.
  const retyped = new SimDisk({ random: new Random(3) });
  const copy = Uint8Array.from(bytes);
  copy[first.next + 8] = RecordType.SnapshotChunk;
  const file = await retyped.open(path, 'create');
  await file.write(copy, 0);
  await file.datasync();
  for (const damaged of [retyped, disk]) {
    if (damaged === disk) disk.flipBit(path, 2500);
    await assert.rejects(readAll(damaged, 1000), (e: unknown) => hasCode(e, StorageErrorCode.Corrupt));
  }
});

test('a snapshot file of an older version (CRC-32C SnapshotChunk records) is still read', async () => {
  const disk = new SimDisk({ random: new Random(4) });
  const data = pattern(2500);
  const end = Buffer.alloc(12);
  end.writeUInt32LE(3, 0);
  end.writeDoubleLE(data.byteLength, 4);
  const records = [
    encodeRecord(RecordType.SnapshotMeta, encode({ meta, epoch: 0 })),
    encodeRecord(RecordType.SnapshotChunk, data.subarray(0, 1000)),
    encodeRecord(RecordType.SnapshotChunk, data.subarray(1000, 2000)),
    encodeRecord(RecordType.SnapshotChunk, data.subarray(2000)),
    encodeRecord(RecordType.SnapshotEnd, end),
  ];
  const file = await disk.open(path, 'create');
  await file.write(Buffer.concat(records), 0);
  await file.datasync();
  assert.equal((await readSnapshotMeta(disk, path))?.meta.sizeBytes, 2500);
  assert.ok(Buffer.from(data).equals(await readAll(disk, 1000)));
});

test('records are read in blocks: records larger than a block, straddling blocks, and a truncated file', async () => {
  const disk = new SimDisk({ random: new Random(5) });
  const sizes = [10, 300, 5, 1000, 64, 64, 64, 2];
  const records = sizes.map((n, i) => encodeRecord(RecordType.SnapshotData, pattern(n).fill(i, 0, 1)));
  const file = await disk.open(path, 'create');
  await file.write(Buffer.concat(records), 0);
  await file.datasync();
  const reader = (await disk.openRead(path))!;
  for (const blockBytes of [1, 50, 128, 4096]) {
    const payloads: Uint8Array[] = [];
    for await (const r of readRecordsFrom(reader, path, 0, sizes.length, blockBytes))
      payloads.push(r.payload);
    assert.deepEqual(
      payloads.map((p) => p.byteLength),
      sizes,
    );
    assert.deepEqual(
      payloads.map((p) => p[0]),
      sizes.map((_, i) => i),
    );
  }
  await reader.close();
  const cut = await disk.open(path, 'existing');
  await cut.truncate(Buffer.concat(records).byteLength - 1);
  await cut.datasync();
  const short = (await disk.openRead(path))!;
  await assert.rejects(
    (async () => {
      for await (const r of readRecordsFrom(short, path, 0, sizes.length, 100)) assert.ok(r.next > 0);
    })(),
    (e: unknown) =>
      hasCode(e, StorageErrorCode.Corrupt) && /ends inside a record|runs past the end/.test(e.message),
  );
  await short.close();
});

test('data is packed into records of exactly the chunk size, whatever the sizes of the pieces written', async () => {
  const disk = new SimDisk({ random: new Random(6) });
  const data = pattern(10_000);
  await writeSnapshotFile(disk, path, { meta, epoch: 0 }, pieces(data, [7, 2500, 1, 999, 3000]), 1000);
  const bytes = disk.contents(path)!;
  const lengths: number[] = [];
  for (let at = 0; at < bytes.byteLength;) {
    const record = readRecord(bytes, at);
    assert.ok(typeof record !== 'string');
    if (record.type === RecordType.SnapshotData) lengths.push(record.payload.byteLength);
    at = record.next;
  }
  assert.deepEqual(lengths, Array<number>(10).fill(1000));
  assert.ok(Buffer.from(data).equals(await readAll(disk, 1000)));
});

/** `disk`, with every file's writes and fdatasyncs logged and each fdatasync passed through `sync`. */
function watchedDisk(disk: DiskIO, events: string[], sync: (done: Promise<void>) => Promise<void>): DiskIO {
  return Object.assign(Object.create(disk) as DiskIO, {
    open: async (p: string, mode: 'create' | 'existing'): Promise<DiskFile> => {
      const file = await disk.open(p, mode);
      const watched: DiskFile = {
        write: (data: Uint8Array, position: number) => {
          events.push('write');
          return file.write(data, position);
        },
        datasync: async () => {
          events.push('sync started');
          await sync(file.datasync());
          events.push('sync done');
        },
        writeAndSync: (data: Uint8Array, position: number) => writeThenSync(watched, data, position),
        truncate: (bytes: number) => file.truncate(bytes),
        close: () => file.close(),
      };
      return watched;
    },
  });
}

/** A little more than one fdatasync interval of data, in 1 MiB pieces. */
async function* pastOneSyncInterval(): AsyncGenerator<Uint8Array> {
  const piece = pattern(1024 * 1024);
  for (let i = 0; i < snapshotSyncEveryBytes / piece.byteLength + 9; i++) yield await Promise.resolve(piece);
}

test('the periodic fdatasync runs beside the writes that follow it; the save ends with one', async () => {
  const events: string[] = [];
  const slowSync = async (done: Promise<void>): Promise<void> => {
    await done;
    await new Promise((resolve) => setTimeout(resolve, 20));
  };
  const disk = watchedDisk(new SimDisk({ random: new Random(7) }), events, slowSync);
  await writeSnapshotFile(disk, path, { meta, epoch: 0 }, pastOneSyncInterval(), 1024 * 1024);
  const started = events.indexOf('sync started');
  assert.ok(started > 0 && started < events.indexOf('sync done'));
  assert.ok(events.slice(started, events.indexOf('sync done')).includes('write'), events.join(', '));
  assert.deepEqual(events.slice(-2), ['sync started', 'sync done']);
  assert.equal(events.filter((e) => e === 'sync started').length, 2);
});

test('a periodic fdatasync that fails fails the save', async () => {
  let syncs = 0;
  const failFirst = async (done: Promise<void>): Promise<void> => {
    await done;
    if (++syncs === 1) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  };
  const disk = watchedDisk(new SimDisk({ random: new Random(8) }), [], failFirst);
  await assert.rejects(
    writeSnapshotFile(disk, path, { meta, epoch: 0 }, pastOneSyncInterval(), 1024 * 1024),
    /EIO/,
  );
});

test('reading a snapshot reads each record once: read blocks hold whole records', async () => {
  const sim = new SimDisk({ random: new Random(9) });
  const data = pattern(3 * snapshotWriteBufferBytes);
  await writeSnapshotFile(sim, path, { meta, epoch: 0 }, pieces(data, [1024 * 1024]), 1024 * 1024);
  let readBytes = 0;
  const counting = Object.assign(Object.create(sim) as DiskIO, {
    openRead: async (p: string): Promise<DiskReader | null> => {
      const reader = await sim.openRead(p);
      if (reader === null) return null;
      return {
        sizeBytes: reader.sizeBytes,
        read: (position: number, length: number) => {
          readBytes += length;
          return reader.read(position, length);
        },
        close: () => reader.close(),
      };
    },
  });
  const out: Uint8Array[] = [];
  for await (const c of readSnapshotChunks(counting, path, meta, 1024 * 1024)) out.push(c);
  assert.ok(Buffer.from(data).equals(Buffer.concat(out)));
  // The data once, plus the metadata, end and first data headers read on their own.
  assert.ok(readBytes < data.byteLength + 4096, `${readBytes} bytes read for ${data.byteLength}`);
});
