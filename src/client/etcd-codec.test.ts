// The pure parts of the etcd backend: selectors to etcd ranges, int64 strings, lease-id aliases.
// (The mapping against a real etcd is covered by test/conformance.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SkeinError } from '../core/errors.ts';
import { int64ToNumber, selectorToEtcd } from './etcd-codec.ts';
import { LeaseIdMap } from './etcd-lease-ids.ts';

const text = (buffer: Buffer | undefined): string | undefined => buffer?.toString('latin1');

describe('etcd codec', () => {
  it('maps a key, a prefix and a range to etcd [key, range_end)', () => {
    assert.deepEqual(text(selectorToEtcd({ key: 'a' }).range_end), undefined);
    assert.equal(text(selectorToEtcd({ key: 'ab', prefix: true }).range_end), 'ac');
    // 'é' is C3 A9 in UTF-8: the prefix end increments the last byte, not the code point.
    assert.equal(selectorToEtcd({ key: 'é', prefix: true }).range_end?.toString('hex'), 'c3aa');
    const everything = selectorToEtcd({ key: '', prefix: true });
    assert.equal(everything.key.toString('hex'), '00');
    assert.equal(everything.range_end?.toString('hex'), '00');
    assert.equal(text(selectorToEtcd({ key: 'a', rangeEnd: '\0' }).range_end), '\0');
    assert.throws(() => selectorToEtcd({ key: 'a', prefix: true, rangeEnd: 'b' }), SkeinError);
  });

  it('reads int64 strings exactly and refuses what a number cannot hold', () => {
    assert.equal(int64ToNumber('0', 'x'), 0);
    assert.equal(int64ToNumber('9007199254740991', 'x'), Number.MAX_SAFE_INTEGER);
    assert.equal(int64ToNumber(undefined, 'x'), 0);
    assert.throws(() => int64ToNumber('9007199254740993', 'x'), /beyond 2\^53/);
  });
});

describe('LeaseIdMap', () => {
  it('passes safe ids through and aliases larger ones with stable negative numbers', () => {
    const ids = new LeaseIdMap();
    assert.equal(ids.fromEtcd('42'), 42);
    assert.equal(ids.fromEtcd('0'), 0);
    const big = '9223372036854775807';
    const alias = ids.fromEtcd(big);
    assert.equal(alias, -1);
    assert.equal(ids.fromEtcd(big), -1);
    assert.equal(ids.fromEtcd('9007199254740993'), -2);
    assert.equal(ids.toEtcd(alias), big);
    assert.equal(ids.toEtcd(42), '42');
    assert.throws(() => ids.toEtcd(-3), /unknown to this connection/);
    assert.throws(() => ids.toEtcd(1.5), SkeinError);
  });

  it('forgets the least recently used alias beyond its bound', () => {
    const ids = new LeaseIdMap(2);
    const a = ids.fromEtcd('10000000000000000001');
    const b = ids.fromEtcd('10000000000000000002');
    ids.toEtcd(a); // a is now more recent than b
    ids.fromEtcd('10000000000000000003');
    assert.equal(ids.toEtcd(a), '10000000000000000001');
    assert.throws(() => ids.toEtcd(b), /unknown/);
  });

  it('draws random lease ids in [1, 2^53)', () => {
    for (let i = 0; i < 1000; i++) {
      const id = LeaseIdMap.randomId();
      assert.ok(Number.isSafeInteger(id) && id >= 1, String(id));
    }
  });
});
