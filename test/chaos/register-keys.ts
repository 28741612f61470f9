/**
 * The register keys that clients contend on, each retired for a fresh one (`r3.0`, then `r3.1`,
 * ...) after a bounded number of operations or of indeterminate writes.
 *
 * Why: an indeterminate write may take effect at any point after its call, or never, so every
 * open one doubles the orders the linearizability checker may have to consider on its key. A
 * burst of them on one key (a partition that times out every client on the minority side) can
 * exhaust the checker's memory, while the same burst spread over fresh keys costs nothing.
 * Operations still in flight on a retired key stay in its history, so a key ends with at most
 * `maxIndeterminateWrites` + (clients - 1) indeterminate writes.
 */
export class RegisterKeys {
  readonly #maxOps: number;
  readonly #maxIndeterminateWrites: number;
  readonly #slots: { generation: number; ops: number; indeterminate: number }[];
  readonly #slotOf = new Map<string, number>();

  constructor(slots: number, maxOps: number, maxIndeterminateWrites: number) {
    this.#maxOps = maxOps;
    this.#maxIndeterminateWrites = maxIndeterminateWrites;
    this.#slots = Array.from({ length: slots }, () => ({ generation: 0, ops: 0, indeterminate: 0 }));
    for (let slot = 0; slot < slots; slot++) this.#slotOf.set(this.#key(slot), slot);
  }

  /** The current key of `slot`, counting one more operation on it. */
  take(slot: number): string {
    const key = this.#key(slot);
    const s = this.#slots[slot]!;
    if (++s.ops >= this.#maxOps) this.#retire(slot);
    return key;
  }

  /** A write on `key` ended indeterminate. */
  indeterminateWrite(key: string): void {
    const slot = this.#slotOf.get(key);
    if (slot === undefined) return; // already retired
    if (++this.#slots[slot]!.indeterminate >= this.#maxIndeterminateWrites) this.#retire(slot);
  }

  #retire(slot: number): void {
    this.#slotOf.delete(this.#key(slot));
    const s = this.#slots[slot]!;
    s.generation++;
    s.ops = 0;
    s.indeterminate = 0;
    this.#slotOf.set(this.#key(slot), slot);
  }

  #key(slot: number): string {
    return `r${slot}.${this.#slots[slot]!.generation}`;
  }
}
