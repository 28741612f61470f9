import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Random } from '../../src/core/random.ts';
import { parseAddress } from '../../src/transport/address.ts';
import { LinkPipe, PASS, type LinkFault, type PipeCounters } from './link-pipe.ts';
import { dialerIdOf, MAX_HELLO_BYTES } from './hello.ts';

export type { LinkFault } from './link-pipe.ts';

/** Options of {@link FaultProxy}. */
export interface FaultProxyOptions {
  /** Seeds the delay jitter. */
  readonly random?: Random;
  /** Bytes one direction of one connection may hold before its source is paused. Default 4 MiB. */
  readonly maxQueuedBytes?: number;
  /** Open proxied connections at most; more are refused. Default 1024. */
  readonly maxConnections?: number;
}

/** Counters of a {@link FaultProxy}. */
export interface FaultProxyStats extends PipeCounters {
  connectionsAccepted: number;
  connectionsRefused: number;
  connectionsCut: number;
  open: number;
}

/** The source of a connection whose first bytes were not a skein HELLO. */
export const UNKNOWN_DIALER = '?';

interface Proxied {
  from: string;
  readonly to: string;
  readonly client: Socket;
  upstream: Socket | null;
  readonly pipes: LinkPipe[];
}

/**
 * A fault-injecting TCP proxy for a cluster of skein processes on 127.0.0.1, run inside the
 * test harness.
 *
 * Each node gets a proxy listener ({@link expose}); the address the cluster knows the node by
 * (its `--peers` entry, which Raft records in its configuration) is that listener, and the
 * listener forwards to the node's real port. Raft keeps ONE address per member in its replicated
 * configuration, so a listener per directed link cannot work once membership changes are applied
 * (every member would be re-pointed at the leader's links). Instead the proxy identifies the
 * directed link of each connection from the dialer id in its HELLO frame: with skein's transport a
 * connection from A to B carries exactly the messages A sends to B, so faults are per directed
 * link all the same ({@link setLink}, {@link partition}, {@link blockOneWay}, {@link isolate}).
 */
export class FaultProxy {
  readonly #random: Random;
  readonly #maxQueuedBytes: number;
  readonly #maxConnections: number;
  readonly #listeners = new Map<string, { server: Server; address: string; target: string }>();
  readonly #faults = new Map<string, LinkFault>();
  readonly #open = new Set<Proxied>();
  readonly #stats: FaultProxyStats = {
    framesForwarded: 0,
    framesLost: 0,
    bytesForwarded: 0,
    connectionsAccepted: 0,
    connectionsRefused: 0,
    connectionsCut: 0,
    open: 0,
  };

  constructor(options: FaultProxyOptions = {}) {
    this.#random = options.random ?? new Random(1);
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.#maxConnections = options.maxConnections ?? 1024;
  }

  /**
   * Listen for node `id` on 127.0.0.1 (`port` 0: any free port) and forward to `target`
   * ("host:port", its real listener). Resolves with the proxy address peers should dial.
   */
  async expose(id: string, target: string, port = 0): Promise<string> {
    if (this.#listeners.has(id)) throw new Error(`fault proxy: ${id} is already exposed`);
    const server = createServer((client) => {
      this.#accept(id, client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.#listeners.set(id, { server, address, target });
    return address;
  }

  /** The proxy address of `id`. */
  addressOf(id: string): string {
    const listener = this.#listeners.get(id);
    if (listener === undefined) throw new Error(`fault proxy: ${id} is not exposed`);
    return listener.address;
  }

  /** Set what the link `from` → `to` does; applies to its open connections at once. */
  setLink(from: string, to: string, fault: LinkFault): void {
    if (fault.kind === 'pass') this.#faults.delete(linkKey(from, to));
    else this.#faults.set(linkKey(from, to), fault);
    if (fault.kind === 'refuse') this.cut(from, to);
  }

  /** The current fault of `from` → `to`. */
  link(from: string, to: string): LinkFault {
    return this.#faults.get(linkKey(from, to)) ?? PASS;
  }

  /** Symmetric partition: every link between nodes of different groups gets `fault` (default blackhole). */
  partition(groups: readonly (readonly string[])[], fault: LinkFault = { kind: 'blackhole' }): void {
    groups.forEach((a, i) => {
      groups.forEach((b, j) => {
        if (i === j) return;
        for (const from of a) for (const to of b) this.setLink(from, to, fault);
      });
    });
  }

  /** One-way partition: messages from each of `from` to each of `to` are lost; the reverse flows. */
  blockOneWay(
    from: readonly string[],
    to: readonly string[],
    fault: LinkFault = { kind: 'blackhole' },
  ): void {
    for (const a of from) for (const b of to) if (a !== b) this.setLink(a, b, fault);
  }

  /** Cut `id` off from `others` in both directions. */
  isolate(id: string, others: readonly string[], fault: LinkFault = { kind: 'blackhole' }): void {
    this.partition([[id], others.filter((o) => o !== id)], fault);
  }

  /** Delay every link between the given nodes (both directions). */
  slow(ids: readonly string[], delayMs: number, jitterMs: number): void {
    for (const a of ids)
      for (const b of ids) if (a !== b) this.setLink(a, b, { kind: 'delay', delayMs, jitterMs });
  }

  /** Clear every fault. */
  heal(): void {
    this.#faults.clear();
  }

  /** Links with a fault, as "from→to: kind" (for logs). */
  describe(): string[] {
    return [...this.#faults].map(([key, fault]) => `${key.replace('\u0000', '→')}: ${fault.kind}`);
  }

  /** Close the open connections of `from` → `to` (either may be omitted: any). The dialers redial. */
  cut(from?: string, to?: string): number {
    let cut = 0;
    for (const c of [...this.#open]) {
      if ((from === undefined || c.from === from) && (to === undefined || c.to === to)) {
        this.#close(c);
        cut++;
      }
    }
    this.#stats.connectionsCut += cut;
    return cut;
  }

  stats(): FaultProxyStats {
    return { ...this.#stats, open: this.#open.size };
  }

  /** Stop listening and close every connection. */
  async close(): Promise<void> {
    for (const c of [...this.#open]) this.#close(c);
    await Promise.all(
      [...this.#listeners.values()].map(
        ({ server }) =>
          new Promise((resolve) => {
            server.close(resolve);
          }),
      ),
    );
    this.#listeners.clear();
  }

  #accept(to: string, client: Socket): void {
    if (this.#open.size >= this.#maxConnections) {
      this.#stats.connectionsRefused++;
      client.destroy();
      return;
    }
    this.#stats.connectionsAccepted++;
    const c: Proxied = { from: UNKNOWN_DIALER, to, client, upstream: null, pipes: [] };
    this.#open.add(c);
    client.setNoDelay(true);
    client.on('error', () => {
      this.#close(c);
    });
    client.on('close', () => {
      this.#close(c);
    });
    // Hold the first bytes until the HELLO names the dialer: only then is the link known.
    let head = Buffer.alloc(0);
    const onHead = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const dialer = dialerIdOf(head.subarray(0, MAX_HELLO_BYTES));
      if (dialer === undefined) return;
      client.off('data', onHead);
      c.from = dialer ?? UNKNOWN_DIALER;
      this.#connectUpstream(c, head);
    };
    client.on('data', onHead);
  }

  #connectUpstream(c: Proxied, head: Buffer): void {
    if (this.link(c.from, c.to).kind === 'refuse') {
      this.#stats.connectionsRefused++;
      this.#close(c);
      return;
    }
    const target = this.#listeners.get(c.to)?.target;
    if (target === undefined) {
      this.#close(c);
      return;
    }
    const { host, port } = parseAddress(target);
    const upstream = connect({ host, port, noDelay: true });
    c.upstream = upstream;
    upstream.on('error', () => {
      this.#close(c);
    });
    upstream.on('close', () => {
      this.#close(c);
    });
    const pipe = (source: Socket, sink: Socket): LinkPipe =>
      new LinkPipe(source, sink, {
        fault: () => this.link(c.from, c.to),
        random: this.#random,
        maxQueuedBytes: this.#maxQueuedBytes,
        counters: this.#stats,
        onRefuse: () => {
          this.#close(c);
        },
      });
    const outbound = pipe(c.client, upstream);
    const inbound = pipe(upstream, c.client);
    c.pipes.push(outbound, inbound);
    c.client.on('data', (chunk: Buffer) => {
      outbound.push(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      inbound.push(chunk);
    });
    // Writes before 'connect' are buffered by the socket; the head goes through the link's fault too.
    outbound.push(head);
  }

  #close(c: Proxied): void {
    if (!this.#open.delete(c)) return;
    for (const p of c.pipes) p.close();
    c.client.destroy();
    c.upstream?.destroy();
  }
}

function linkKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}
