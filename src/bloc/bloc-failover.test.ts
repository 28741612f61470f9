import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSkeinCluster } from '../../test/support/skein-cluster.ts';
import { connect } from '../client/index.ts';
import { startBlocEndpoint } from './endpoint.ts';
import { blocRequest, heartbeatUntil, settled } from './test-http.ts';

// Three real `skein server` processes: heavier than the rest, so opt-in (SKEIN_BLOC_FAILOVER=1).
const enabled = process.env['SKEIN_BLOC_FAILOVER'] === '1';

test(
  'bloc clients keep their indexes when the coordinator leader is killed',
  { skip: enabled ? false : 'set SKEIN_BLOC_FAILOVER=1 (starts a 3-member cluster)' },
  async (t) => {
    const cluster = await startSkeinCluster({ members: 3 });
    const client = await connect({ endpoints: cluster.clientUrls, requestTimeoutMs: 3_000 });
    const bloc = await startBlocEndpoint({
      coordinator: client,
      timeoutSeconds: 3,
      settleMs: 500,
      listen: { host: '127.0.0.1', port: 0 },
    });
    try {
      const sessions = ['a', 'b', 'c'];
      const expected = [settled(1, 3), settled(2, 3), settled(3, 3)];
      assert.deepEqual(
        await heartbeatUntil(bloc.url, sessions, (b) => b.every((x) => x.includes('SETTLED"'))),
        expected,
      );
      const status = await client.status();
      const leader = cluster.names.indexOf(status.members.find((m) => m.id === status.leader)?.name ?? '');
      assert.ok(leader >= 0, 'a leader is known');
      await cluster.kill(leader);
      // Heartbeat as bloc clients do (every 200 ms) for 5 s across the election: answers may be 503
      // while there is no leader, but every 200 answer is the same assignment, and it comes back.
      const seen = new Map<string, number>();
      const deadline = Date.now() + 5_000;
      let last: string[] = [];
      while (Date.now() < deadline) {
        const answers = await Promise.all(sessions.map((s) => blocRequest(bloc.url, 'GET', '/index', s)));
        for (const answer of answers) {
          const key = answer.status === 200 ? answer.body : String(answer.status);
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
        last = answers.map((a) => a.body);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      t.diagnostic(`answers during the failover: ${JSON.stringify([...seen])}`);
      const bodies = [...seen.keys()].filter((k) => k.startsWith('{'));
      assert.deepEqual(bodies.sort(), [...expected].sort(), `answers: ${JSON.stringify([...seen])}`);
      assert.deepEqual(last, expected, 'settled with the same indexes after the failover');
    } finally {
      await bloc.close();
      await client.close();
      await cluster.stop();
    }
  },
);
