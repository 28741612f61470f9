import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCode } from '../core/errors.ts';
import { resolveServerConfig, ServerDefaults } from './config.ts';

test('--snapshot-every-entries: default, flag, SKEIN_* environment, and bounds', () => {
  assert.equal(resolveServerConfig({}, {}).snapshotEveryEntries, ServerDefaults.snapshotEveryEntries);
  assert.equal(resolveServerConfig({ snapshotEveryEntries: '5000' }, {}).snapshotEveryEntries, 5000);
  assert.equal(
    resolveServerConfig({}, { SKEIN_SNAPSHOT_EVERY_ENTRIES: '20000' }).snapshotEveryEntries,
    20_000,
  );
  // A flag wins over the environment.
  assert.equal(
    resolveServerConfig({ snapshotEveryEntries: '7' }, { SKEIN_SNAPSHOT_EVERY_ENTRIES: '20000' })
      .snapshotEveryEntries,
    7,
  );
  for (const bad of ['0', '-1', '1.5', 'many', '']) {
    assert.throws(
      () => resolveServerConfig({ snapshotEveryEntries: bad }, {}),
      (e: unknown) =>
        hasCode(e, 'SKEIN_INVALID_CONFIG') && /--snapshot-every-entries/.test((e as Error).message),
      `"${bad}" is refused`,
    );
  }
});
