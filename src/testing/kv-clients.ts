import { hasCode } from '../core/errors.ts';
import type { Random } from '../core/random.ts';
import type { KvStore } from '../kv/store.ts';
import type { Compare, RangeResponse, TxnResponse, DeleteRangeResponse } from '../kv/types.ts';
import type { RaftNode } from '../raft/node.ts';
import type { HistoryRecorder } from './history.ts';
import { groupPrefix, type KvGroupInput, type KvGroupOutput } from './kv-model.ts';

/** Keys `g<i>/<name>`: a few groups of a few keys, so that operations contend. */
export interface KvKeySpace {
  readonly groups: readonly string[];
  readonly names: readonly string[];
}

export const DefaultKeySpace: KvKeySpace = { groups: ['g0', 'g1', 'g2'], names: ['a', 'b'] };

/**
 * Errors after which a write certainly had no effect: refused before it was proposed
 * (`RaftCore.propose` refuses a whole batch — no leader known, a leadership transfer under way —
 * before appending anything), or rejected by the store's validation when applied (a KvStore
 * processor checks everything before it mutates anything). Every other error — above all
 * SKEIN_TIMEOUT and SKEIN_STOPPED — leaves it indeterminate: it may still commit later. Were one
 * of these ever raised after a proposal, the checker would report a false alarm, not miss a bug.
 */
const NO_EFFECT = new Set([
  'SKEIN_NO_LEADER',
  'SKEIN_LEADERSHIP_TRANSFER_IN_PROGRESS',
  'SKEIN_UNKNOWN_ACTION',
  'SKEIN_COMMAND_TOO_LARGE',
  'SKEIN_OVERLOADED',
  'SKEIN_PROCESSOR_FAILED',
]);

/** How an operation reaches the store: through a member's log, and reads through its read barrier. */
export interface KvTarget {
  readonly clientId: string;
  readonly node: RaftNode;
  /** The member's store of the incarnation that serves the read. */
  readonly store: () => KvStore;
}

/**
 * Issues random put / get / compare-and-set (a txn: compare value or absence, then put) / delete,
 * and per-group multi-key operations (a txn putting every key of a group, a prefix range, a prefix
 * delete) against simulated members, and records each in `history` for {@link kvGroupModel}.
 * Values are unique, so a read names the write it saw.
 */
export class KvSimClients {
  readonly #history: HistoryRecorder<KvGroupInput, KvGroupOutput>;
  readonly #random: Random;
  readonly #keys: KvKeySpace;
  /** The last value each key was written with (by anyone): CAS expects it, so that some CAS swap. */
  readonly #lastWritten = new Map<string, string>();
  #nextValue = 1;

  constructor(history: HistoryRecorder<KvGroupInput, KvGroupOutput>, random: Random, keys = DefaultKeySpace) {
    this.#history = history;
    this.#random = random;
    this.#keys = keys;
  }

  /** Invoke one random operation on `target`; its answer is recorded when it arrives. */
  issue(target: KvTarget): void {
    const rng = this.#random;
    const group = rng.pick(this.#keys.groups);
    const key = `${groupPrefix(group)}${rng.pick(this.#keys.names)}`;
    const roll = rng.int(100);
    if (roll < 25) this.#put(target, key);
    else if (roll < 45) this.#get(target, key);
    else if (roll < 60) this.#cas(target, key);
    else if (roll < 68) this.#delete(target, key);
    else if (roll < 80) this.#putAll(target, group);
    else if (roll < 95) void this.readAll(target, group);
    else this.#deleteAll(target, group);
  }

  /** A linearizable read of every key of `group` at once (also used for the final read-back). */
  readAll(target: KvTarget, group: string): Promise<void> {
    const id = this.#history.invoke(target.clientId, { op: 'read-all', group });
    const range = { key: groupPrefix(group), prefix: true };
    return target.node
      .read(() => target.store().range(range))
      .then(
        (answer) => {
          this.#history.ok(id, Object.fromEntries(answer.kvs.map((kv) => [kv.key, kv.value])));
        },
        () => {
          this.#history.fail(id); // a read that failed had no effect
        },
      );
  }

  #get(target: KvTarget, key: string): void {
    const id = this.#history.invoke(target.clientId, { op: 'get', key });
    target.node
      .read(() => target.store().range({ key }))
      .then(
        (answer: RangeResponse) => {
          this.#history.ok(id, answer.kvs[0]?.value ?? null);
        },
        () => {
          this.#history.fail(id);
        },
      );
  }

  #put(target: KvTarget, key: string): void {
    const value = this.#value(key);
    this.#write(target, { op: 'put', key, value }, 'put', { key, value }, () => undefined);
  }

  #cas(target: KvTarget, key: string): void {
    const expected = this.#random.chance(0.3) ? null : (this.#lastWritten.get(key) ?? null);
    const value = this.#value(key);
    // A missing key has value '' in a compare, so absence is asked as version = 0.
    const compare: Compare =
      expected === null
        ? { key, target: 'version', op: '=', value: 0 }
        : { key, target: 'value', op: '=', value: expected };
    const txn = { compare: [compare], success: [{ put: { key, value } }], failure: [] };
    this.#write(target, { op: 'cas', key, expected, value }, 'txn', txn, (r) => (r as TxnResponse).succeeded);
  }

  #delete(target: KvTarget, key: string): void {
    this.#write(target, { op: 'delete', key }, 'delete-range', { key }, (r) => {
      return (r as DeleteRangeResponse).deleted > 0;
    });
  }

  #putAll(target: KvTarget, group: string): void {
    const values: Record<string, string> = {};
    for (const name of this.#keys.names) {
      const key = `${groupPrefix(group)}${name}`;
      values[key] = this.#value(key);
    }
    const txn = {
      compare: [],
      success: Object.entries(values).map(([key, value]) => ({ put: { key, value } })),
      failure: [],
    };
    this.#write(target, { op: 'put-all', group, values }, 'txn', txn, () => undefined);
  }

  #deleteAll(target: KvTarget, group: string): void {
    const request = { key: groupPrefix(group), prefix: true };
    this.#write(target, { op: 'delete-all', group }, 'delete-range', request, (r) => {
      return (r as DeleteRangeResponse).deleted;
    });
  }

  #write(
    target: KvTarget,
    input: KvGroupInput,
    action: string,
    params: unknown,
    output: (result: unknown) => KvGroupOutput,
  ): void {
    const id = this.#history.invoke(target.clientId, input);
    target.node.enqueue(action, params).then(
      (result) => {
        this.#history.ok(id, output(result));
      },
      (error: unknown) => {
        if ([...NO_EFFECT].some((code) => hasCode(error, code))) this.#history.fail(id);
        else this.#history.timeout(id);
      },
    );
  }

  #value(key: string): string {
    const value = `v${this.#nextValue++}`;
    this.#lastWritten.set(key, value);
    return value;
  }
}
