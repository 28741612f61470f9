import type { Random } from '../../src/core/random.ts';
import { SkeinError } from '../../src/core/errors.ts';
import type { HistoryRecorder } from '../../src/testing/history.ts';
import type { KvInput, KvOutput } from '../../src/testing/models/kv.ts';
import { sleep, withTimeout, type ChaosCluster, type ChaosNode } from './chaos-cluster.ts';
import { RegisterKeys } from './register-keys.ts';

/** Options of {@link Workload}. */
export interface WorkloadOptions {
  readonly cluster: ChaosCluster;
  readonly history: HistoryRecorder<KvInput, KvOutput>;
  readonly random: Random;
  /** Concurrent clients, each with one operation in flight. */
  readonly clients: number;
  /** Shared register keys that set/cas/get/read contend on. */
  readonly registerKeys: number;
  /** How long a client waits for an answer before it records the operation as indeterminate. */
  readonly opTimeoutMs: number;
  /** A register key is retired for a fresh one after this many operations (see {@link RegisterKeys}). */
  readonly maxOpsPerKey: number;
  /** ... or after this many indeterminate writes on it. */
  readonly maxIndeterminateWritesPerKey: number;
}

/** What the clients saw, by outcome. */
export interface WorkloadCounts {
  invoked: number;
  ok: number;
  failed: number;
  indeterminate: number;
  /** Errors seen by clients, by code (timeouts of the client itself are SKEIN_TIMEOUT too). */
  errors: Record<string, number>;
}

/**
 * Errors after which a command certainly was not applied. `RaftNode.enqueue` raises these before
 * the command is proposed or forwarded (`RaftCore.propose` refuses — no leader known, not a
 * member, a leadership transfer under way, too many uncommitted entries — before appending, and
 * the node rejects the command at once; a forwarded command is never rejected back). Every other error of a write (timeouts, a process that died or froze, SKEIN_STOPPED)
 * leaves it indeterminate: it may still commit later. Were one of these ever raised after a
 * proposal, the check would report a false alarm (a value read that nobody wrote), not miss a bug.
 */
const NOT_APPLIED = new Set([
  'SKEIN_UNKNOWN_ACTION',
  'SKEIN_COMMAND_TOO_LARGE',
  'SKEIN_INVALID_ARGUMENT',
  'SKEIN_OVERLOADED',
  'SKEIN_NO_LEADER',
  'SKEIN_NOT_MEMBER',
  'SKEIN_LEADERSHIP_TRANSFER_IN_PROGRESS',
]);

/**
 * Concurrent clients talking to the cluster through the IPC channels of its processes, recording
 * every operation in a history. Two kinds of keys:
 *
 * - `r<k>.<generation>`: registers that clients `set`, `cas` and read (through the log with
 *   `get`, and with a linearizable ReadIndex `read`): contention, for the linearizability check;
 * - `u/<client>/<seq>`: written once each with a unique value: after the run every acknowledged
 *   one must still be there (the "no acknowledged write lost" check).
 */
export class Workload {
  readonly counts: WorkloadCounts = { invoked: 0, ok: 0, failed: 0, indeterminate: 0, errors: {} };
  /** Write-once keys whose `set` was acknowledged, with their value. */
  readonly acknowledged = new Map<string, number>();
  /** Every key an operation was invoked on (the final read covers them all). */
  readonly keys = new Set<string>();
  readonly #o: WorkloadOptions;
  #running = false;
  #loops: Promise<void>[] = [];
  #nextValue = 1;
  readonly #registers: RegisterKeys;

  constructor(options: WorkloadOptions) {
    this.#o = options;
    this.#registers = new RegisterKeys(
      options.registerKeys,
      options.maxOpsPerKey,
      options.maxIndeterminateWritesPerKey,
    );
  }

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: this.#o.clients }, (_, i) => this.#client(i));
  }

  /** Stop issuing; resolves once every client's last operation has ended (answered or timed out). */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** Read `key` linearizably on some running member and record it (client "final"). */
  async finalRead(key: string, node: ChaosNode): Promise<unknown> {
    const { history } = this.#o;
    const op = history.invoke('final', { op: 'get', key });
    try {
      const value = await withTimeout(node.process.request({ cmd: 'read', key }), this.#o.opTimeoutMs);
      history.ok(op, value as KvOutput);
      return value;
    } catch (error) {
      history.fail(op);
      throw error;
    }
  }

  async #client(index: number): Promise<void> {
    const random = this.#o.random.fork();
    // A client whose operation timed out continues under a new name, as a Jepsen process does.
    let incarnation = 1;
    let seq = 0;
    const lastSeen = new Map<string, number | null>();
    while (this.#running) {
      const node = this.#pickNode(random);
      if (node === null) {
        await sleep(50);
        continue;
      }
      const clientId = `c${index}.${incarnation}`;
      const key = this.#registers.take(random.int(this.#o.registerKeys));
      const roll = random.next();
      let outcome: Outcome;
      if (roll < 0.35) {
        const uniqueKey = `u/${index}/${seq++}`;
        const value = this.#nextValue++;
        outcome = await this.#write(node, clientId, uniqueKey, value);
        if (outcome === 'ok') this.acknowledged.set(uniqueKey, value);
      } else if (roll < 0.55) {
        outcome = await this.#write(node, clientId, key, this.#nextValue++);
      } else if (roll < 0.7) {
        outcome = await this.#cas(node, clientId, key, lastSeen.get(key) ?? null, this.#nextValue++);
      } else {
        const viaLog = roll < 0.8;
        const [result, value] = await this.#read(node, clientId, key, viaLog);
        outcome = result;
        if (result === 'ok') lastSeen.set(key, value as number | null);
      }
      if (outcome === 'indeterminate') incarnation++;
      // Back off a little after a failure, so a leaderless minute is not a million failed operations.
      if (outcome !== 'ok') await sleep(random.intBetween(20, 100));
    }
  }

  /** A running process, mostly not a frozen one (a real client would notice the stall and move on). */
  #pickNode(random: Random): ChaosNode | null {
    const running = this.#o.cluster.running();
    const awake = running.filter((n) => !n.paused);
    const pool = awake.length > 0 && random.chance(0.9) ? awake : running;
    return pool.length === 0 ? null : random.pick(pool);
  }

  #write(node: ChaosNode, clientId: string, key: string, value: number): Promise<Outcome> {
    return this.#run(
      node,
      clientId,
      { op: 'put', key, value },
      { action: 'set', params: { key, value } },
      () => undefined,
    );
  }

  #cas(
    node: ChaosNode,
    clientId: string,
    key: string,
    expected: number | null,
    value: number,
  ): Promise<Outcome> {
    return this.#run(
      node,
      clientId,
      { op: 'cas', key, expected, value },
      { action: 'cas', params: { key, expected, value } },
      (swapped) => swapped as boolean,
    );
  }

  async #read(node: ChaosNode, clientId: string, key: string, viaLog: boolean): Promise<[Outcome, unknown]> {
    let seen: unknown = null;
    const outcome = await this.#run(
      node,
      clientId,
      { op: 'get', key },
      viaLog ? { action: 'get', params: { key } } : { read: key },
      (value) => {
        seen = value;
        return value as KvOutput;
      },
    );
    return [outcome, seen];
  }

  async #run(
    node: ChaosNode,
    clientId: string,
    input: KvInput,
    request: { action: string; params: unknown } | { read: string },
    output: (value: unknown) => KvOutput,
  ): Promise<Outcome> {
    const { history } = this.#o;
    this.counts.invoked++;
    this.keys.add(input.key);
    const op = history.invoke(clientId, input);
    try {
      const reply = node.process.request(
        'read' in request ? { cmd: 'read', key: request.read } : { cmd: 'enqueue', ...request },
      );
      const value = await withTimeout(reply, this.#o.opTimeoutMs);
      history.ok(op, output(value));
      this.counts.ok++;
      return 'ok';
    } catch (error) {
      // A read that failed changed nothing; a write that failed may still happen, unless refused outright.
      const code = error instanceof SkeinError ? error.code : 'SKEIN_INTERNAL';
      this.counts.errors[code] = (this.counts.errors[code] ?? 0) + 1;
      if (input.op === 'get' || NOT_APPLIED.has(code)) {
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
