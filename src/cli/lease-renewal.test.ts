// The loop behind `skein lease keepalive`, against a scripted store (the real command and server
// are in client-commands.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SkeinError } from '../core/errors.ts';
import { kvError, KvErrorCode } from '../kv/errors.ts';
import type { LeaseKeepAliveResponse } from '../kv/types.ts';
import { renewUntilInterrupted } from './lease-renewal.ts';

describe('renewUntilInterrupted', () => {
  test('bounds every renewal by one interval and goes on after a failure', async () => {
    const timeouts: (number | undefined)[] = [];
    const failures: string[] = [];
    let renewedCount = 0;
    const interrupted = new AbortController();
    const store = {
      keepAliveOnce: (id: number, options?: { timeoutMs?: number }): Promise<LeaseKeepAliveResponse> => {
        timeouts.push(options?.timeoutMs);
        // The second renewal fails as a timed-out request to a paused member would.
        if (timeouts.length === 2) return Promise.reject(new SkeinError('SKEIN_UNAVAILABLE', 'no answer'));
        return Promise.resolve({ id, ttlSeconds: 1 });
      },
    };
    await renewUntilInterrupted(store, 7, 1, interrupted.signal, {
      renewed: () => {
        if (++renewedCount === 3) interrupted.abort();
      },
      failed: (error) => failures.push(error.code),
    });
    assert.deepEqual(failures, ['SKEIN_UNAVAILABLE']);
    assert.equal(renewedCount, 3);
    assert.deepEqual(timeouts, [1000 / 3, 1000 / 3, 1000 / 3, 1000 / 3]);
  });

  test('rejects once the lease is gone', async () => {
    const store = {
      keepAliveOnce: (): Promise<LeaseKeepAliveResponse> =>
        Promise.reject(kvError(KvErrorCode.LeaseNotFound, 'lease 7 not found')),
    };
    await assert.rejects(
      renewUntilInterrupted(store, 7, 1, new AbortController().signal, {
        renewed: () => assert.fail('nothing to renew'),
        failed: () => assert.fail('not a transient failure'),
      }),
      { code: KvErrorCode.LeaseNotFound },
    );
  });
});
