import { setTimeout as sleep } from 'node:timers/promises';
import type { CoordinationStore } from '../client/types.ts';
import { SkeinError } from '../core/errors.ts';
import type { LeaseKeepAliveResponse } from '../kv/types.ts';

export interface RenewalReports {
  readonly renewed: (answer: LeaseKeepAliveResponse) => void;
  /** A renewal failed but the lease may still live; it is retried. */
  readonly failed: (error: SkeinError) => void;
}

/**
 * `skein lease keepalive`'s loop: renew lease `leaseId` every TTL / 3 until `signal` aborts. Each
 * renewal gives up after one interval and is retried after a fifth of one (skein's client sends
 * the retry to the next member), so a paused or cut-off member cannot hold the loop for the
 * client's whole request timeout. It ends early, rejecting, only when the lease is gone
 * (SKEIN_LEASE_NOT_FOUND) or on an error that is not a SkeinError.
 */
export async function renewUntilInterrupted(
  store: Pick<CoordinationStore, 'keepAliveOnce'>,
  leaseId: number,
  ttlSeconds: number,
  signal: AbortSignal,
  reports: RenewalReports,
): Promise<void> {
  const intervalMs = Math.max(100, (ttlSeconds * 1000) / 3);
  let delayMs = intervalMs;
  for (;;) {
    try {
      await sleep(delayMs, undefined, { signal });
    } catch {
      return; // interrupted
    }
    const sentAtMs = performance.now();
    try {
      reports.renewed(await store.keepAliveOnce(leaseId, { timeoutMs: intervalMs }));
      delayMs = Math.max(0, intervalMs - (performance.now() - sentAtMs));
    } catch (error) {
      if (!(error instanceof SkeinError) || error.code === 'SKEIN_LEASE_NOT_FOUND') throw error;
      reports.failed(error);
      delayMs = intervalMs / 5;
    }
  }
}
