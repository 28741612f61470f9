import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KvErrorCode } from './errors.ts';
import { KvDefaults } from './limits.ts';
import { KvStore } from './store.ts';
import { kv, snapshotBytes, throwsCode } from './test-helpers.ts';
import {
  validateCompact,
  validateDeleteRange,
  validateLeaseGrant,
  validatePut,
  validateRange,
  validateTxn,
} from './validate.ts';

const L = { ...KvDefaults, maxKeyBytes: 8, maxValueBytes: 6 };
const invalid = KvErrorCode.InvalidArgument;

describe('validation', () => {
  it('put: names the bad field', () => {
    throwsCode(() => validatePut(null, L), invalid, /^put must be an object/);
    throwsCode(() => validatePut({ key: 1, value: '' }, L), invalid, /put\.key must be a string/);
    throwsCode(() => validatePut({ key: '', value: '' }, L), invalid, /put\.key must not be empty/);
    throwsCode(() => validatePut({ key: 'k' }, L), invalid, /put\.value must be a string/);
    throwsCode(() => validatePut({ key: 'k', value: '', lease: -1 }, L), invalid, /put\.lease/);
    throwsCode(() => validatePut({ key: 'k', value: '', lease: null }, L), invalid, /put\.lease/);
    throwsCode(
      () => validatePut({ key: 'k', value: '', prevKv: 1 }, L),
      invalid,
      /put\.prevKv must be a boolean/,
    );
    throwsCode(
      () => validatePut({ key: 'k', value: '', ignoreLease: true }, L),
      invalid,
      /put\.ignoreLease is not a known field/,
    );
    const ok = { key: 'k', value: 'v', lease: 0, prevKv: true };
    assert.equal(validatePut(ok, L), ok);
  });

  it('sizes are UTF-8 bytes', () => {
    assert.ok(validatePut({ key: '12345678', value: '123456' }, L));
    throwsCode(
      () => validatePut({ key: '123456789', value: '' }, L),
      KvErrorCode.KeyTooLarge,
      /9 UTF-8 bytes, more than maxKeyBytes \(8\)/,
    );
    throwsCode(() => validatePut({ key: 'ééééé', value: '' }, L), KvErrorCode.KeyTooLarge, /10 UTF-8 bytes/);
    throwsCode(
      () => validatePut({ key: 'k', value: '€€€' }, L),
      KvErrorCode.ValueTooLarge,
      /put\.value is 9 UTF-8 bytes/,
    );
    throwsCode(
      () => validateRange({ key: 'a', rangeEnd: '123456789' }, L),
      KvErrorCode.KeyTooLarge,
      /range\.rangeEnd/,
    );
  });

  it('range and delete selectors', () => {
    throwsCode(() => validateRange({ key: '' }, L), invalid, /range\.key must not be empty/);
    assert.ok(validateRange({ key: '', prefix: true }, L));
    assert.ok(validateRange({ key: '', rangeEnd: '\0' }, L));
    throwsCode(
      () => validateRange({ key: 'a', prefix: true, rangeEnd: 'b' }, L),
      invalid,
      /both prefix and rangeEnd/,
    );
    throwsCode(() => validateRange({ key: 'a', limit: -1 }, L), invalid, /range\.limit/);
    throwsCode(() => validateRange({ key: 'a', revision: 1.5 }, L), invalid, /range\.revision/);
    throwsCode(() => validateRange({ key: 'a', countOnly: 'yes' }, L), invalid, /range\.countOnly/);
    throwsCode(() => validateDeleteRange({ key: 'a', prefix: 1 }, L), invalid, /deleteRange\.prefix/);
  });

  it('txn: paths into nested ops and compares', () => {
    const t = (x: object) => () => validateTxn({ compare: [], success: [], failure: [], ...x }, L);
    throwsCode(t({ compare: {} }), invalid, /txn\.compare must be an array/);
    throwsCode(
      t({ compare: [{ key: 'a', target: 'size', op: '=', value: 1 }] }),
      invalid,
      /txn\.compare\[0\]\.target/,
    );
    throwsCode(
      t({ compare: [{ key: 'a', target: 'value', op: '~', value: '' }] }),
      invalid,
      /txn\.compare\[0\]\.op/,
    );
    throwsCode(
      t({ compare: [{ key: 'a', target: 'value', op: '=', value: 1 }] }),
      invalid,
      /txn\.compare\[0\]\.value must be a string/,
    );
    throwsCode(
      t({ compare: [{ key: 'a', target: 'version', op: '=', value: '1' }] }),
      invalid,
      /txn\.compare\[0\]\.value must be an integer/,
    );
    throwsCode(t({ success: [{}] }), invalid, /txn\.success\[0\] must have exactly one/);
    throwsCode(
      t({ success: [{ put: { key: 'a', value: '' }, range: { key: 'a' } }] }),
      invalid,
      /exactly one/,
    );
    throwsCode(
      t({ failure: [{ range: { key: 'a' } }, { put: { key: 'a' } }] }),
      invalid,
      /txn\.failure\[1\]\.put\.value/,
    );
  });

  it('compact and lease-grant', () => {
    throwsCode(() => validateCompact({ revision: -1 }), invalid, /compact\.revision/);
    throwsCode(() => validateLeaseGrant({ ttlSeconds: 10, id: -3 }, L), invalid, /leaseGrant\.id/);
    assert.ok(validateLeaseGrant({ ttlSeconds: 10, id: 0 }, L));
  });

  it('a rejected command leaves the state byte-for-byte unchanged', () => {
    const { store, call, put } = kv({ maxKeyBytes: 8 });
    put('a', '1');
    const before = snapshotBytes(store);
    for (const [action, params] of [
      ['put', { key: 'too-long-key', value: '' }],
      ['delete-range', { key: '' }],
      [
        'txn',
        {
          compare: [],
          success: [{ put: { key: 'b', value: '' } }, { put: { key: 'c', value: 1 } }],
          failure: [],
        },
      ],
      ['compact', { revision: 9 }],
      ['lease-revoke', { id: 5 }],
      ['lease-grant', { ttlSeconds: 0 }],
      ['member-publish', { id: '', name: '', clientUrl: '' }],
    ] as const) {
      assert.throws(() => call(action, params));
      assert.deepEqual(snapshotBytes(store), before, action);
    }
  });

  it('limits must be positive integers', () => {
    throwsCode(() => new KvStore({ limits: { maxKeys: 0 } }), 'SKEIN_INVALID_CONFIG', /KvLimits\.maxKeys/);
    throwsCode(() => new KvStore({ limits: { maxTxnOps: 1.5 } }), 'SKEIN_INVALID_CONFIG', /maxTxnOps/);
  });
});
