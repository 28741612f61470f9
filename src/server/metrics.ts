import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one member, served at /metrics. */
export interface ServerMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'status'>;
  readonly requestSeconds: Histogram<'route'>;
  /** Refresh the gauges that are read off the node and the store at scrape time. */
  readonly gauges: {
    readonly term: Gauge;
    readonly isLeader: Gauge;
    readonly commitIndex: Gauge;
    readonly appliedIndex: Gauge;
    readonly revision: Gauge;
    readonly keys: Gauge;
    readonly leases: Gauge;
    readonly watches: Gauge;
  };
  /** Open RPC-channel connections (kept up to date by the RPC server, not at scrape time). */
  readonly rpcConnections: Gauge;
}

export function createServerMetrics(collect: (m: ServerMetrics['gauges']) => void): ServerMetrics {
  // A registry per member, so that several members in one process (tests) do not collide.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'skein_process_' });
  const gauge = (name: string, help: string): Gauge => new Gauge({ name, help, registers: [registry] });
  const term: Gauge = new Gauge({
    name: 'skein_raft_term',
    help: 'Current Raft term',
    registers: [registry],
    // Gauges are read off the node and the store when scraped, not updated on every write.
    collect: () => {
      collect(gauges);
    },
  });
  const gauges = {
    term,
    isLeader: gauge('skein_raft_is_leader', '1 when this member is the leader'),
    commitIndex: gauge('skein_raft_commit_index', 'Raft commit index'),
    appliedIndex: gauge('skein_raft_applied_index', 'Raft index applied to the store'),
    revision: gauge('skein_kv_revision', 'Store revision'),
    keys: gauge('skein_kv_keys', 'Live keys'),
    leases: gauge('skein_kv_leases', 'Live leases'),
    watches: gauge('skein_watches', 'Watches served by this member'),
  };
  return {
    registry,
    gauges,
    rpcConnections: gauge('skein_rpc_connections', 'Open RPC-channel connections (skein/client)'),
    requests: new Counter({
      name: 'skein_http_requests_total',
      help: 'Client requests (HTTP and the RPC channel) by route and status',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: 'skein_http_request_seconds',
      help: 'Client request latency (HTTP and the RPC channel) by route',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
  };
}
