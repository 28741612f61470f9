/**
 * Lifeguard's local-health-aware suspicion (LHA-Suspicion): a suspicion starts with a long
 * timeout and shrinks, logarithmically, as independent members confirm it. A lone member with a
 * bad network cannot kill others quickly; a member that many find unreachable dies quickly.
 */
export class Suspicion {
  /** Incarnation the suspicion is about; a higher one from the member refutes it. */
  readonly incarnation: number;
  readonly startMs: number;
  readonly #minMs: number;
  readonly #maxMs: number;
  /** Confirmations needed to reach the minimum timeout. */
  readonly #k: number;
  /** Distinct members that suspect (the first one does not count as a confirmation). */
  readonly #from = new Set<string>();

  constructor(incarnation: number, from: string, startMs: number, k: number, minMs: number, maxMs: number) {
    this.incarnation = incarnation;
    this.startMs = startMs;
    this.#k = k;
    this.#minMs = minMs;
    this.#maxMs = maxMs;
    this.#from.add(from);
  }

  get confirmations(): number {
    return this.#from.size - 1;
  }

  /** Record an independent suspicion; true when `from` is new (and the deadline moved earlier). */
  confirm(from: string): boolean {
    if (this.confirmations >= this.#k || this.#from.has(from)) return false;
    this.#from.add(from);
    return true;
  }

  /** When the member is to be declared dead. */
  get deadlineMs(): number {
    return this.startMs + suspicionTimeoutMs(this.confirmations, this.#k, this.#minMs, this.#maxMs);
  }
}

/** max − (max − min) × log(n + 1) / log(k + 1), floored at min (memberlist's remainingSuspicionTime). */
export function suspicionTimeoutMs(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k <= 0) return minMs;
  const fraction = Math.log(confirmations + 1) / Math.log(k + 1);
  return Math.max(minMs, Math.floor(maxMs - fraction * (maxMs - minMs)));
}

/** The minimum suspicion timeout for a cluster of `members`: mult × max(1, log10(n)) × interval. */
export function minSuspicionTimeoutMs(
  suspicionMult: number,
  members: number,
  probeIntervalMs: number,
): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, members)));
  return suspicionMult * nodeScale * probeIntervalMs;
}
