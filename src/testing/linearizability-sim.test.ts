import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../core/clock.ts';
import { Random } from '../core/random.ts';
import type { Transport } from '../transport/types.ts';
import { HistoryRecorder } from './history.ts';
import { checkLinearizable } from './linearizability.ts';
import { randomKvInput } from './linearizability-fixtures.ts';
import type { JsonValue } from './models/json.ts';
import { kvModel, type KvInput, type KvOutput } from './models/kv.ts';
import { runSeeds, seedsFromEnv } from './seeds.ts';
import { SimNetwork } from './sim-network.ts';

/**
 * The checker on simulator histories: a primary-backup key-value store over a lossy simulated
 * network, with clients that time out. Writes go to the primary, which applies them, answers,
 * and replicates to the backup in the background. Reading from the primary is linearizable;
 * reading from the backup is not (it lags), and the checker must say so.
 */

type Message =
  | { readonly type: 'request'; readonly requestId: string; readonly input: KvInput }
  | { readonly type: 'reply'; readonly requestId: string; readonly output: KvOutput }
  | { readonly type: 'replicate'; readonly key: string; readonly value: JsonValue };

function apply(store: Map<string, JsonValue>, input: KvInput): KvOutput {
  const current = store.get(input.key) ?? null;
  switch (input.op) {
    case 'get':
      return current;
    case 'put':
      store.set(input.key, input.value);
      return undefined;
    case 'delete':
      return store.delete(input.key);
    case 'cas':
      if (current !== input.expected) return false;
      store.set(input.key, input.value);
      return true;
  }
}

/** A server: the primary applies and replicates; the backup applies replication and serves reads. */
function startServer(transport: Transport, role: 'primary' | 'backup'): void {
  const store = new Map<string, JsonValue>();
  // Retried or duplicated requests must not apply twice: answer them from here.
  const replies = new Map<string, KvOutput>();
  transport.setHandler((from, raw) => {
    const message = raw as Message;
    if (message.type === 'replicate') {
      if (message.value === null) store.delete(message.key);
      else store.set(message.key, message.value);
      return;
    }
    if (message.type !== 'request') return;
    let output = replies.get(message.requestId);
    if (!replies.has(message.requestId)) {
      output = apply(store, message.input);
      replies.set(message.requestId, output);
      if (role === 'primary' && message.input.op !== 'get') {
        transport.send('backup', {
          type: 'replicate',
          key: message.input.key,
          value: store.get(message.input.key) ?? null,
        });
      }
    }
    transport.send(from, { type: 'reply', requestId: message.requestId, output });
  });
}

interface Workload {
  readonly seed: number;
  readonly readFromBackup: boolean;
  readonly operationsPerClient: number;
}

/** Run four clients against the pair and return the recorded history. */
function simulate(workload: Workload): HistoryRecorder<KvInput, KvOutput> {
  const clock = new VirtualClock();
  const random = new Random(workload.seed);
  // In-order delivery per link keeps the backup's replica a (lagging) prefix of the primary's.
  const network = new SimNetwork(clock, random.fork(), { minDelayMs: 2, maxDelayMs: 2, lossRate: 0.05 });
  network.setLinkFaults('primary', 'backup', { minDelayMs: 20, maxDelayMs: 20, lossRate: 0 });
  startServer(network.transport('primary'), 'primary');
  startServer(network.transport('backup'), 'backup');
  const history = new HistoryRecorder<KvInput, KvOutput>(clock);
  for (let c = 0; c < 4; c++) {
    const clientId = `client-${c}`;
    const transport = network.transport(clientId);
    const pending = new Map<string, number>();
    let issued = 0;
    const next = (): void => {
      if (issued === workload.operationsPerClient) return;
      const input = randomKvInput(random, `k${random.int(3)}`, issued);
      const requestId = `${clientId}/${issued++}`;
      const op = history.invoke(clientId, input);
      pending.set(requestId, op);
      const server =
        input.op === 'get' && workload.readFromBackup && random.chance(0.5) ? 'backup' : 'primary';
      transport.send(server, { type: 'request', requestId, input });
      clock.setTimeout(() => {
        if (!pending.delete(requestId)) return;
        history.timeout(op);
        next();
      }, 15);
    };
    transport.setHandler((_from, raw) => {
      const message = raw as Message;
      if (message.type !== 'reply') return;
      const op = pending.get(message.requestId);
      if (op === undefined) return;
      pending.delete(message.requestId);
      history.ok(op, message.output);
      clock.setTimeout(next, random.int(3));
    });
    next();
  }
  while (clock.step()) {
    // Runs until every client has finished and every message has landed.
  }
  return history;
}

describe('checkLinearizable on simulated primary-backup histories', () => {
  it('accepts histories when every read goes to the primary (lossy network, timeouts)', () => {
    let timedOut = 0;
    runSeeds('primary-reads', seedsFromEnv(10), (seed) => {
      const history = simulate({ seed, readFromBackup: false, operationsPerClient: 150 });
      timedOut += history.operations().filter((o) => o.return === Infinity).length;
      const result = checkLinearizable(kvModel, history, { timeoutMs: 10_000 });
      assert.equal(result.result, 'ok', result.counterexample?.text);
    });
    assert.ok(timedOut > 0, 'the network should have made some operations time out');
  });

  it('catches stale reads served by the lagging backup', () => {
    runSeeds('backup-reads', seedsFromEnv(10), (seed) => {
      const history = simulate({ seed, readFromBackup: true, operationsPerClient: 150 });
      const result = checkLinearizable(kvModel, history, { timeoutMs: 10_000 });
      assert.equal(result.result, 'illegal', 'stale reads went unnoticed');
      assert.match(result.counterexample?.text ?? '', /get\(k\d\) -> .*impossible in state/);
    });
  });
});
