import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hasCode } from '../core/errors.ts';
import { TransportErrorCode } from './errors.ts';
import { FrameDecoder } from './frame-decoder.ts';
import { SendQueue } from './send-queue.ts';

/** Split `bytes` at the given cut points (taken modulo its length). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort(
    (a, b) => a - b,
  );
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

test('send queue + frame decoder round-trip any payloads under any chunking', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 2000 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (payloads, coalesceBytes, cuts) => {
        const queue = new SendQueue();
        for (const p of payloads) queue.push(Buffer.from(p));
        const writes: Buffer[] = [];
        for (let w = queue.take(coalesceBytes); w !== undefined; w = queue.take(coalesceBytes)) {
          // A batch never exceeds the target unless it is a single oversized frame.
          assert.ok(w.length <= coalesceBytes || w.readUInt32BE(0) + 4 === w.length);
          writes.push(w);
        }
        assert.equal(queue.bytes, 0);
        const decoder = new FrameDecoder(300);
        const got: Buffer[] = [];
        for (const chunk of split(Buffer.concat(writes), cuts))
          decoder.feed(chunk, (f) => got.push(Buffer.from(f)));
        assert.deepEqual(
          got,
          payloads.map((p) => Buffer.from(p)),
        );
        assert.equal(decoder.bufferedBytes, 0);
      },
    ),
  );
});

test('frame decoder rejects an oversized or zero length prefix before buffering the payload', () => {
  const decoder = new FrameDecoder(100);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(101);
  assert.throws(
    () => {
      decoder.feed(header.subarray(0, 4), () => assert.fail('no frame expected'));
    },
    (e) => hasCode(e, TransportErrorCode.FrameTooLarge),
  );
  assert.throws(
    () => {
      new FrameDecoder(100).feed(Buffer.alloc(4), () => assert.fail('no frame expected'));
    },
    (e) => hasCode(e, TransportErrorCode.BadFrame),
  );
  // Exactly at the limit is fine.
  const ok = Buffer.alloc(104);
  ok.writeUInt32BE(100);
  let frames = 0;
  new FrameDecoder(100).feed(ok, () => frames++);
  assert.equal(frames, 1);
});

test('frame decoder assembles a large frame from many small chunks', () => {
  const payload = Buffer.alloc(1 << 20, 7);
  const wire = Buffer.concat([Buffer.from([0, 0x10, 0, 0]), payload]);
  const decoder = new FrameDecoder(1 << 20);
  const got: Buffer[] = [];
  for (let at = 0; at < wire.length; at += 1000)
    decoder.feed(wire.subarray(at, at + 1000), (f) => got.push(f));
  assert.equal(got.length, 1);
  assert.ok(got[0]!.equals(payload));
});

test('frame decoder stops delivering once stopped mid-chunk', () => {
  const wire = Buffer.from([0, 0, 0, 1, 0xaa, 0, 0, 0, 1, 0xbb]);
  const decoder = new FrameDecoder(10);
  const got: number[] = [];
  decoder.feed(wire, (f) => {
    got.push(f[0]!);
    decoder.stop();
  });
  assert.deepEqual(got, [0xaa]);
});
