/**
 * The CoordinationStore conformance suite: one set of node:test tests that every backend must pass.
 * Plug a backend in with a file like etcd.test.ts:
 *
 *   defineConformanceSuite('skein', async () => {
 *     const cluster = await startSkein(...);
 *     const store = await connect({ endpoints: cluster.urls });
 *     return { store, cleanup: async () => { await store.close(); await cluster.stop(); } };
 *   });
 *
 * `open` runs once for the whole suite; tests share the store and isolate themselves by key
 * namespace (a fresh prefix per test and run), so the store may be reused. Tests run in order; a few
 * compact the store, so nothing here relies on history older than its own test.
 * Where backends are allowed to differ, the tests consult expectations.ts (documented in docs/client.md).
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import type { CoordinationStore } from '../../src/client/types.ts';
import { expectations } from './expectations.ts';
import type { ConformanceOptions, SuiteContext } from './helpers.ts';
import { kvCases } from './kv-cases.ts';
import { leaseCases } from './lease-cases.ts';
import { recipeCases } from './recipe-cases.ts';
import { txnCases } from './txn-cases.ts';
import { watchCases } from './watch-cases.ts';

export type { ConformanceOptions } from './helpers.ts';

export interface ConformanceBackend {
  readonly store: CoordinationStore;
  cleanup(): Promise<void>;
}

export function defineConformanceSuite(
  backendName: string,
  open: () => Promise<ConformanceBackend>,
  options: ConformanceOptions = {},
): void {
  let backend: ConformanceBackend | null = null;
  const runId = randomBytes(4).toString('hex');
  const ctx: SuiteContext = {
    get store() {
      if (backend === null) throw new Error('the conformance backend is not open (did open() fail?)');
      return backend.store;
    },
    get expect() {
      return expectations[ctx.store.backend];
    },
    options: { progressNotifyWithinMs: 0, leaseExpiryBoundMs: 2500, ...options },
    ns: (name) => `conformance/${runId}/${name}/`,
  };

  describe(`CoordinationStore conformance: ${backendName}`, () => {
    before(async () => {
      backend = await open();
    });
    after(async () => {
      await backend?.cleanup();
      backend = null;
    });
    describe('kv', () => {
      kvCases(ctx);
    });
    describe('txn', () => {
      txnCases(ctx);
    });
    describe('leases', () => {
      leaseCases(ctx);
    });
    describe('watch', () => {
      watchCases(ctx);
    });
    describe('recipes', () => {
      recipeCases(ctx);
    });
  });
}
