import { decode, encode } from '../core/codec.ts';

/**
 * How a command travels in the log: msgpack bytes of `[requestId, action, params]`. Bytes, not
 * objects, so that flow control and limits see the true size, the WAL stores exactly what was
 * replicated, and decoding happens once per apply.
 */
export interface Command {
  /** `<node>:<incarnation>:<seq>`: lets the proposing node match the applied entry to its caller. */
  readonly requestId: string;
  readonly action: string;
  readonly params: unknown;
}

export function encodeCommand(command: Command): Uint8Array {
  return encode([command.requestId, command.action, command.params]);
}

/** Decode a command entry; null when the bytes are not a command (a bug or foreign data). */
export function decodeCommand(bytes: unknown): Command | null {
  if (!(bytes instanceof Uint8Array)) return null;
  let value: unknown;
  try {
    value = decode(bytes);
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 3) return null;
  const [requestId, action, params] = value as [unknown, unknown, unknown];
  if (typeof requestId !== 'string' || typeof action !== 'string') return null;
  return { requestId, action, params };
}

/**
 * Remembers the request ids of the last `capacity` applied commands, so a proposal delivered twice
 * (a duplicated forward) is applied once. Its state is a function of the applied log alone, so
 * every replica makes the same decisions.
 */
export class RecentRequests {
  readonly #capacity: number;
  readonly #ids = new Set<string>();
  readonly #order: string[] = [];
  #head = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Record `id`; returns false if it was already recorded (a duplicate). */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#order.length < this.#capacity) {
      this.#order.push(id);
    } else {
      this.#ids.delete(this.#order[this.#head]!);
      this.#order[this.#head] = id;
      this.#head = (this.#head + 1) % this.#capacity;
    }
    return true;
  }

  clear(): void {
    this.#ids.clear();
    this.#order.length = 0;
    this.#head = 0;
  }

  /** The remembered ids, oldest first (what a snapshot stores). */
  toArray(): string[] {
    return [...this.#order.slice(this.#head), ...this.#order.slice(0, this.#head)];
  }

  /** Replace the contents with `ids` (oldest first), as a snapshot recorded them. */
  load(ids: readonly string[]): void {
    this.clear();
    for (const id of ids.slice(-this.#capacity)) this.add(id);
  }
}
