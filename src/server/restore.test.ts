import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from '../client/skein-client.ts';
import { restoreBackup } from './restore.ts';
import { startTestServer } from './test-server.ts';

test('snapshot save then restore: a new one-member cluster serves the same keys, revision and history', async () => {
  const source = await startTestServer();
  const c1 = await connect({ endpoints: source.server.clientUrl });
  for (let i = 0; i < 20; i++) await c1.put({ key: `k/${i % 5}`, value: `v${i}` });
  const lease = await c1.grantLease(600);
  await c1.put({ key: 'leased', value: 'x', lease: lease.id });
  const before = await c1.range({ key: '', rangeEnd: '\0' });
  const file = join(mkdtempSync(join(tmpdir(), 'skein-backup-')), 'backup.skein');
  writeFileSync(file, await c1.snapshot());
  await c1.close();
  await source.stop();

  const dataDir = mkdtempSync(join(tmpdir(), 'skein-restored-'));
  const restored = await restoreBackup({ file, dataDir, name: 'default', peerAddress: '127.0.0.1:1' });
  assert.equal(restored.revision, before.revision);
  await assert.rejects(restoreBackup({ file, dataDir, name: 'default', peerAddress: '127.0.0.1:1' }), {
    code: 'SKEIN_DATA_DIR_NOT_EMPTY',
  });

  const target = await startTestServer({ listenPeer: '127.0.0.1:0', advertisePeer: '127.0.0.1:1' }, dataDir);
  const c2 = await connect({ endpoints: target.server.clientUrl });
  try {
    const after = await c2.range({ key: '', rangeEnd: '\0' });
    assert.deepEqual(after.kvs, before.kvs);
    assert.equal(after.revision, before.revision);
    assert.ok((await c2.leaseTimeToLive(lease.id)) !== null, 'the lease came back with a fresh TTL');
    const history = await c2.range({ key: 'k/0', revision: before.revision - 5 });
    assert.equal(history.kvs.length, 1, 'history before the backup is still readable');
    const next = await c2.put({ key: 'k/0', value: 'after restore' });
    assert.equal(next.revision, before.revision + 1);
  } finally {
    await c2.close();
    await target.stop();
  }
});
