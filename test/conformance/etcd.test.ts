// The conformance suite against a real single-member etcd (Debian's etcd 3.4), started once for the file.
import { connectEtcd } from '../../src/client/etcd-store.ts';
import { startEtcdCluster } from '../support/etcd-cluster.ts';
import { defineConformanceSuite } from './suite.ts';

const progressNotifyIntervalMs = 300;

defineConformanceSuite(
  'etcd',
  async () => {
    const cluster = await startEtcdCluster({ members: 1, progressNotifyIntervalMs });
    const store = await connectEtcd({ hosts: cluster.clientUrls });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await cluster.stop();
      },
    };
  },
  { progressNotifyWithinMs: progressNotifyIntervalMs * 5 },
);
