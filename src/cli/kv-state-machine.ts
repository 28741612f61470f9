import { decode, encode } from '../core/codec.ts';
import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import type { Processor, SnapshotStateMachine } from '../raft/node-options.ts';

/** Bounds of the built-in key-value state machine. */
export interface KvLimits {
  /** Keys the map may hold; a `set` of a new key beyond it fails (on every member alike). */
  readonly maxKeys: number;
  /** Longest key, in UTF-16 code units. */
  readonly maxKeyLength: number;
}

export const KvDefaults: KvLimits = { maxKeys: 1_000_000, maxKeyLength: 1024 };

export const KvErrorCode = {
  Full: 'SKEIN_KV_FULL',
  InvalidArgument: CoreErrorCode.InvalidArgument,
} as const;

/** What the state machine looks like from outside: its size and a fingerprint of its history. */
export interface KvSummary {
  readonly keys: number;
  /** Commands applied by this incarnation (including ones whose processor failed validation). */
  readonly applied: number;
  /**
   * A rolling 32-bit hash over (action, key) of every applied command in order: two members that
   * applied the same commands in the same order report the same value.
   */
  readonly digest: number;
}

/**
 * The key-value map that `skein raft-node` and `skein start` replicate: `set`, `get`, `cas`, `del`.
 * Processors must be deterministic: every member applies the same commands in the same order
 * and must reach the same state, errors included.
 */
export class KvStateMachine implements SnapshotStateMachine {
  readonly #data = new Map<string, unknown>();
  readonly #limits: KvLimits;
  #applied = 0;
  #digest = 0x811c9dc5;

  constructor(limits: Partial<KvLimits> = {}) {
    this.#limits = { ...KvDefaults, ...limits };
  }

  /** The processors to hand to `RaftNode.create`. */
  processors(): Record<string, Processor> {
    return {
      /** `{ key, value }` → the previous value, or null. */
      set: (p) => {
        const { key, value } = this.#args(p, 'set', ['key', 'value']);
        // One lookup on the hot path: values are never undefined (msgpack has no undefined).
        const previous = this.#data.get(key);
        if (previous === undefined && this.#data.size >= this.#limits.maxKeys) {
          throw new SkeinError(KvErrorCode.Full, `the map holds maxKeys (${this.#limits.maxKeys}) keys`);
        }
        this.#data.set(key, value ?? null);
        return previous ?? null;
      },
      /** `{ key }` → the value, or null. A `get` through the log is linearizable but costs a write. */
      get: (p) => this.#data.get(this.#args(p, 'get', ['key']).key) ?? null,
      /** `{ key, expected, value }` → true when the current value was `expected` (null: absent) and got replaced. */
      cas: (p) => {
        const { key, expected, value } = this.#args(p, 'cas', ['key', 'expected', 'value']);
        if (!sameValue(this.#data.get(key) ?? null, expected ?? null)) return false;
        if (!this.#data.has(key) && this.#data.size >= this.#limits.maxKeys) {
          throw new SkeinError(KvErrorCode.Full, `the map holds maxKeys (${this.#limits.maxKeys}) keys`);
        }
        this.#data.set(key, value ?? null);
        return true;
      },
      /** `{ key }` → true when the key existed. */
      del: (p) => this.#data.delete(this.#args(p, 'del', ['key']).key),
    };
  }

  /** Read a key directly (call inside `RaftNode.read` for a linearizable read). */
  get(key: string): unknown {
    return this.#data.get(key) ?? null;
  }

  /** The whole state (map, applied count, digest) as one msgpack value, taken now. */
  snapshot(): Uint8Array {
    return encode([this.#applied, this.#digest, [...this.#data]]);
  }

  /** Replace the state with a snapshot taken by {@link snapshot} (on this or another member). */
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const chunk of chunks) parts.push(chunk);
    const value = decode(Buffer.concat(parts));
    if (!Array.isArray(value) || value.length !== 3 || !Array.isArray(value[2])) {
      throw new SkeinError(
        CoreErrorCode.DecodeFailed,
        'not a key-value snapshot: [applied, digest, entries]',
      );
    }
    const [applied, digest, entries] = value as [number, number, [string, unknown][]];
    this.#data.clear();
    for (const [key, v] of entries) this.#data.set(key, v);
    this.#applied = applied;
    this.#digest = digest;
  }

  summary(): KvSummary {
    return { keys: this.#data.size, applied: this.#applied, digest: this.#digest >>> 0 };
  }

  /** Validate a command's parameters and fold it into the digest (failures too: they are deterministic). */
  #args(
    params: unknown,
    action: string,
    fields: readonly string[],
  ): { key: string; value?: unknown; expected?: unknown } {
    this.#applied++;
    this.#digest = fnv1a(this.#digest, action);
    if (typeof params !== 'object' || params === null) {
      throw new SkeinError(KvErrorCode.InvalidArgument, `${action} takes { ${fields.join(', ')} }`);
    }
    const p = params as Record<string, unknown>;
    const key = p['key'];
    if (typeof key !== 'string' || key.length === 0 || key.length > this.#limits.maxKeyLength) {
      throw new SkeinError(
        KvErrorCode.InvalidArgument,
        `${action}: key must be a string of 1..${this.#limits.maxKeyLength} characters`,
      );
    }
    this.#digest = fnv1a(this.#digest, key);
    return { key, value: p['value'], expected: p['expected'] };
  }
}

/** FNV-1a over the UTF-16 code units of `text`, continuing from `hash`, plus a separator. */
function fnv1a(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ 0xff, 0x01000193);
}

/** Value equality for cas: primitives by value, byte arrays by content, anything else by msgpack shape. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(b);
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    return JSON.stringify(a) === JSON.stringify(b);
  }
  return false;
}
