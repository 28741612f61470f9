// The conformance suite against a real single-member skein server (in this process, real sockets,
// data on disk), started once for the file.
import { connect } from '../../src/client/skein-client.ts';
import { startTestServer } from '../../src/server/test-server.ts';
import { defineConformanceSuite } from './suite.ts';

const progressNotifyIntervalMs = 300;

defineConformanceSuite(
  'skein',
  async () => {
    const { server, stop } = await startTestServer({
      watchProgressIntervalMs: String(progressNotifyIntervalMs),
      autoCompactionRevisions: '0',
    });
    const store = await connect({ endpoints: server.clientUrl });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await stop();
      },
    };
  },
  { progressNotifyWithinMs: progressNotifyIntervalMs * 5 },
);
