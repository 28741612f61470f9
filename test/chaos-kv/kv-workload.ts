import { hasCode } from '../../src/core/errors.ts';
import type { Random } from '../../src/core/random.ts';
import { connect, type SkeinClient } from '../../src/client/skein-client.ts';
import type { HistoryRecorder } from '../../src/testing/history.ts';
import type { KvInput, KvOutput } from '../../src/testing/models/kv.ts';
import { sleep, withTimeout } from '../chaos/chaos-cluster.ts';
import { RegisterKeys } from '../chaos/register-keys.ts';
import type { WorkloadCounts } from '../chaos/workload.ts';

/** Options of {@link KvWorkload}. */
export interface KvWorkloadOptions {
  readonly endpoints: readonly string[];
  readonly history: HistoryRecorder<KvInput, KvOutput>;
  readonly random: Random;
  readonly clients: number;
  readonly registerKeys: number;
  /** The client's own deadline per request (its retries included). */
  readonly requestTimeoutMs: number;
}

/**
 * Errors after which the server certainly did not apply a write: refused before the command
 * was proposed (no leader known, a leadership transfer under way, bad request, overloaded).
 * Every other error — SKEIN_TIMEOUT, SKEIN_UNAVAILABLE (connection lost in flight) — leaves it
 * indeterminate. Were one of these ever raised after a proposal, the check would report a false
 * alarm, not miss a bug.
 */
const NOT_APPLIED = [
  'SKEIN_NO_LEADER',
  'SKEIN_LEADERSHIP_TRANSFER_IN_PROGRESS',
  'SKEIN_INVALID_ARGUMENT',
  'SKEIN_OVERLOADED',
  'SKEIN_PROCESSOR_FAILED',
];

/**
 * Concurrent clients, each with its own `connect()` to every member, recording put / linearizable
 * get / compare-and-set (a txn: compare value, or version 0 for "absent", then put) / delete on
 * shared register keys (retired for fresh ones as in the raw Raft chaos run), and put on
 * write-once keys `u/<client>/<seq>` whose acknowledged values must survive the run.
 */
export class KvWorkload {
  readonly counts: WorkloadCounts = { invoked: 0, ok: 0, failed: 0, indeterminate: 0, errors: {} };
  readonly acknowledged = new Map<string, string>();
  readonly keys = new Set<string>();
  readonly #o: KvWorkloadOptions;
  readonly #registers: RegisterKeys;
  #running = false;
  #loops: Promise<void>[] = [];
  #nextValue = 1;

  constructor(options: KvWorkloadOptions) {
    this.#o = options;
    this.#registers = new RegisterKeys(options.registerKeys, 60, 4);
  }

  async start(): Promise<void> {
    const clients = await Promise.all(
      Array.from({ length: this.#o.clients }, () =>
        connect({
          endpoints: this.#o.endpoints,
          requestTimeoutMs: this.#o.requestTimeoutMs,
          // Members replaced by the nemesis come back under new URLs: follow them soon.
          autoSyncIntervalMs: 2000,
        }),
      ),
    );
    this.#running = true;
    this.#loops = clients.map((client, i) => this.#loop(client, i));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** A linearizable read of `key` recorded as client "final"; throws when it fails. */
  async finalRead(client: SkeinClient, key: string): Promise<string | null> {
    const op = this.#o.history.invoke('final', { op: 'get', key });
    try {
      const kv = await client.get(key);
      this.#o.history.ok(op, kv?.value ?? null);
      return kv?.value ?? null;
    } catch (error) {
      this.#o.history.fail(op);
      throw error;
    }
  }

  async #loop(client: SkeinClient, index: number): Promise<void> {
    const random = this.#o.random.fork();
    let incarnation = 1; // a client whose operation ended indeterminate continues under a new name
    let seq = 0;
    const lastSeen = new Map<string, string | null>();
    try {
      while (this.#running) {
        const id = `c${index}.${incarnation}`;
        const key = this.#registers.take(random.int(this.#o.registerKeys));
        const value = `v${this.#nextValue++}`;
        const roll = random.next();
        let outcome: Outcome;
        if (roll < 0.3) {
          const unique = `u/${index}/${seq++}`;
          outcome = await this.#run(id, { op: 'put', key: unique, value }, () =>
            client.put({ key: unique, value }),
          );
          if (outcome === 'ok') this.acknowledged.set(unique, value);
        } else if (roll < 0.5) {
          outcome = await this.#run(id, { op: 'put', key, value }, async () => client.put({ key, value }));
        } else if (roll < 0.65) {
          const expected = lastSeen.get(key) ?? null;
          outcome = await this.#run(id, { op: 'cas', key, expected, value }, async () => {
            const compare =
              expected === null
                ? { key, target: 'version' as const, op: '=' as const, value: 0 }
                : { key, target: 'value' as const, op: '=' as const, value: expected };
            return (await client.txn({ compare: [compare], success: [{ put: { key, value } }], failure: [] }))
              .succeeded;
          });
        } else if (roll < 0.72) {
          outcome = await this.#run(
            id,
            { op: 'delete', key },
            async () => (await client.deleteRange({ key })).deleted > 0,
          );
        } else {
          let seen: string | null = null;
          outcome = await this.#run(id, { op: 'get', key }, async () => {
            seen = (await client.get(key))?.value ?? null;
            return seen;
          });
          if (outcome === 'ok') lastSeen.set(key, seen);
        }
        if (outcome === 'indeterminate') incarnation++;
        if (outcome !== 'ok') await sleep(random.intBetween(20, 100));
      }
    } finally {
      await client.close();
    }
  }

  async #run(clientId: string, input: KvInput, call: () => Promise<unknown>): Promise<Outcome> {
    const { history } = this.#o;
    this.counts.invoked++;
    this.keys.add(input.key);
    const op = history.invoke(clientId, input);
    try {
      const result = await withTimeout(call(), this.#o.requestTimeoutMs + 1000);
      history.ok(op, input.op === 'put' ? undefined : (result as KvOutput));
      this.counts.ok++;
      return 'ok';
    } catch (error) {
      const code = error instanceof Error && 'code' in error ? String(error.code) : 'SKEIN_INTERNAL';
      this.counts.errors[code] = (this.counts.errors[code] ?? 0) + 1;
      if (input.op === 'get' || NOT_APPLIED.some((c) => hasCode(error, c))) {
        history.fail(op);
        this.counts.failed++;
        return 'failed';
      }
      history.timeout(op);
      this.counts.indeterminate++;
      this.#registers.indeterminateWrite(input.key);
      return 'indeterminate';
    }
  }
}

type Outcome = 'ok' | 'failed' | 'indeterminate';
