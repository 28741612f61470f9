import type { Random } from '../core/random.ts';

/**
 * Delay before reconnect attempt number `attempt` (0 for the first retry): exponential from
 * `minMs` doubling up to `maxMs`, with "equal jitter" — a uniform pick in [ceiling/2, ceiling].
 * The jitter spreads out a cluster's reconnects after a shared event (a leader restart, a
 * switch reboot) so they do not arrive in lockstep; the floor keeps a retry from being instant.
 */
export function reconnectDelayMs(attempt: number, minMs: number, maxMs: number, random: Random): number {
  const ceilingMs = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  const halfMs = ceilingMs / 2;
  return Math.round(halfMs + random.next() * halfMs);
}
