import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../core/clock.ts';
import { Random } from '../core/random.ts';
import { SimDisk, SimDiskCrashed } from './sim-disk.ts';

const text = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString());

test('SimDisk: a crash keeps synced data and durable names, and loses the rest', async () => {
  const disk = new SimDisk({ random: new Random(1) });
  await disk.mkdir('/d');
  const a = await disk.open('/d/a', 'create');
  await a.write(Buffer.from('hello'), 0);
  await a.datasync();
  await disk.fsyncDir('/d');
  await a.write(Buffer.from(' world'), 5);
  const b = await disk.open('/d/b', 'create'); // name never fsynced
  await b.write(Buffer.from('x'), 0);
  await b.datasync();
  assert.equal(text(disk.contents('/d/a')), 'hello world');
  disk.crash();
  assert.equal(text(disk.contents('/d/a')), 'hello');
  assert.equal(disk.contents('/d/b'), null);
  assert.deepEqual(await disk.list('/d'), ['a']);
});

test('SimDisk: a torn crash keeps a strict prefix of the last unsynced write', async () => {
  const lengths = new Set<number>();
  for (let seed = 0; seed < 40; seed++) {
    const disk = new SimDisk({ random: new Random(seed) });
    const f = await disk.open('/d/f', 'create');
    await disk.fsyncDir('/d');
    await f.write(Buffer.from('ab'), 0);
    await f.datasync();
    await f.write(Buffer.from('cd'), 2);
    await f.write(Buffer.from('0123456789'), 4);
    disk.crash({ tear: true });
    const after = text(disk.contents('/d/f'))!;
    assert.ok('abcd0123456789'.startsWith(after) && after.length >= 4 && after.length < 14, after);
    lengths.add(after.length);
  }
  assert.ok(lengths.size > 3, 'tears at different byte boundaries');
});

test('SimDisk: renames and unlinks are durable only after fsyncDir; truncates undo exactly', async () => {
  const disk = new SimDisk({ random: new Random(1) });
  const f = await disk.open('/d/tmp', 'create');
  await f.write(Buffer.from('new'), 0);
  await f.datasync();
  const old = await disk.open('/d/cur', 'create');
  await old.write(Buffer.from('old data'), 0);
  await old.datasync();
  await disk.fsyncDir('/d');
  await disk.rename('/d/tmp', '/d/cur');
  assert.equal(text(disk.contents('/d/cur')), 'new');
  await old.truncate(3);
  disk.crash();
  assert.equal(text(disk.contents('/d/cur')), 'old data');
  await disk.rename('/d/tmp', '/d/cur');
  await disk.fsyncDir('/d');
  disk.crash();
  assert.equal(text(disk.contents('/d/cur')), 'new');
});

test('SimDisk: crashAfterOps stops the process at an exact operation; ENOSPC stores what fits', async () => {
  const disk = new SimDisk({ random: new Random(1), capacityBytes: 8 });
  const f = await disk.open('/d/f', 'create');
  disk.crashAfterOps = disk.opCount + 1;
  await f.write(Buffer.from('abc'), 0);
  await assert.rejects(f.datasync(), SimDiskCrashed);
  disk.crash();
  assert.equal(disk.contents('/d/f'), null, 'the creation was never made durable');
  const g = await disk.open('/d/g', 'create');
  await assert.rejects(g.write(Buffer.from('0123456789'), 0), { code: 'ENOSPC' });
  assert.equal(text(disk.contents('/d/g')), '01234567');
});

test('SimDisk: with a clock, operations complete after the latency in virtual time', async () => {
  const clock = new VirtualClock();
  const disk = new SimDisk({ random: new Random(1), clock, latencyMs: 2 });
  let done = false;
  const p = disk.mkdir('/d').then(() => (done = true));
  await Promise.resolve();
  assert.equal(done, false);
  clock.advance(2);
  await p;
  assert.equal(done, true);
});

test('SimDisk: after a crash, the dead process can neither write through its files nor its view', async () => {
  const disk = new SimDisk({ random: new Random(1) });
  const before = disk.view();
  const f = await before.open('/d/f', 'create');
  await before.fsyncDir('/d');
  disk.crash();
  await assert.rejects(f.write(Buffer.from('late'), 0), SimDiskCrashed);
  await assert.rejects(before.unlink('/d/f'), SimDiskCrashed);
  const after = disk.view();
  const g = await after.open('/d/f', 'existing');
  await g.write(Buffer.from('ok'), 0);
  assert.equal(text(disk.contents('/d/f')), 'ok');
});
