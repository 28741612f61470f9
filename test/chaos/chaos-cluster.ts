import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SkeinError } from '../../src/core/errors.ts';
import { freePorts, spawnMember, type MemberProcess } from '../../src/cli/member-process.ts';
import { DEFAULT_TEST_SECRET, type MemberStatus } from '../../src/cli/process-cluster.ts';
import type { FaultProxy } from './fault-proxy.ts';

/**
 * How a killed node comes back.
 *
 * - `durable`: the same id, from its `--data-dir` (its vote and log survived the kill -9).
 * - `replace`: in-memory storage forgets the vote and the log, and a node that comes back under
 *   the same id with an empty log can vote twice in a term and lose committed entries. So the dead
 *   member is detached and a fresh process joins under a NEW id (`b` → `b.2`), as an operator
 *   would replace a machine whose disk is gone.
 * - `amnesia`: DELIBERATELY UNSAFE, the negative control: the same id with in-memory storage, so
 *   the node comes back with no vote and no log. The nemesis then kills the whole cluster at once,
 *   every acknowledged write is forgotten, and the checks must fail.
 */
export type RestartMode = 'durable' | 'replace' | 'amnesia';

/** Options of {@link ChaosCluster.start}. */
export interface ChaosClusterOptions {
  readonly size: number;
  readonly proxy: FaultProxy;
  readonly restart: RestartMode;
  /** Where each node keeps `<id>/` in durable mode. */
  readonly dataRoot?: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly requestTimeoutMs: number;
  readonly logLevel: string;
  /** Progress lines (nemesis actions, restarts). */
  readonly log: (line: string) => void;
}

/** One node process as the harness sees it. */
export interface ChaosNode {
  readonly id: string;
  /** Name without the incarnation suffix of `replace` mode (`b.2` → `b`). */
  readonly slot: string;
  process: MemberProcess;
  readonly listen: string;
  readonly proxyAddress: string;
  paused: boolean;
  /** Log output of earlier incarnations of this id (kept for failure reports). */
  previousOutput: string;
}

const MAX_OUTPUT_BYTES = 512 * 1024;

/**
 * N `skein raft-node` processes on 127.0.0.1, each reachable only through the fault proxy: a
 * node's `--peers` (and so the Raft configuration) names every member by its proxy address.
 */
export class ChaosCluster {
  readonly proxy: FaultProxy;
  readonly #options: ChaosClusterOptions;
  /** Current members by id (replaced ids are dropped). */
  readonly #nodes = new Map<string, ChaosNode>();
  readonly #retired: ChaosNode[] = [];
  #incarnations = new Map<string, number>();

  private constructor(options: ChaosClusterOptions) {
    this.#options = options;
    this.proxy = options.proxy;
  }

  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const cluster = new ChaosCluster(options);
    const slots = Array.from({ length: options.size }, (_, i) => String.fromCharCode(97 + i));
    const ports = await freePorts(slots.length);
    const proxied = await Promise.all(
      slots.map((id, i) => options.proxy.expose(id, `127.0.0.1:${ports[i]}`)),
    );
    const peers = slots.map((id, i) => `${id}=${proxied[i]}`).join(',');
    for (const [i, id] of slots.entries()) {
      const node: ChaosNode = {
        id,
        slot: id,
        process: cluster.#spawn(id, `127.0.0.1:${ports[i]}`, peers),
        listen: `127.0.0.1:${ports[i]}`,
        proxyAddress: proxied[i]!,
        paused: false,
        previousOutput: '',
      };
      cluster.#nodes.set(id, node);
    }
    try {
      await Promise.all([...cluster.#nodes.values()].map((n) => n.process.ready()));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get restartMode(): RestartMode {
    return this.#options.restart;
  }

  /** Current member ids. */
  ids(): string[] {
    return [...this.#nodes.keys()];
  }

  node(id: string): ChaosNode {
    const node = this.#nodes.get(id);
    if (node === undefined) throw new Error(`chaos: no node ${id}`);
    return node;
  }

  /** Nodes whose process runs (paused ones included). */
  running(): ChaosNode[] {
    return [...this.#nodes.values()].filter((n) => !n.process.exited);
  }

  /** Every process this run started, current and retired (for failure reports). */
  allNodes(): ChaosNode[] {
    return [...this.#retired, ...this.#nodes.values()];
  }

  /** Status of `id`, or null when it does not answer within `timeoutMs`. */
  async status(id: string, timeoutMs = 2000): Promise<MemberStatus | null> {
    const node = this.#nodes.get(id);
    if (node === undefined || node.process.exited || node.paused) return null;
    try {
      return (await withTimeout(node.process.request({ cmd: 'status' }), timeoutMs)) as MemberStatus;
    } catch {
      return null;
    }
  }

  /** The leader that a majority of the current members agree on, polling until `timeoutMs`. */
  async waitForLeader(timeoutMs: number): Promise<string | null> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const statuses = await Promise.all(this.ids().map((id) => this.status(id)));
      const leader = statuses.find((s) => s?.role === 'leader');
      if (leader !== undefined && leader !== null) {
        const agree = statuses.filter((s) => s?.leaderId === leader.id && s.term === leader.term).length;
        if (agree > this.#nodes.size / 2) return leader.id;
      }
      if (performance.now() > deadline) return null;
      await sleep(100);
    }
  }

  /** Run `request` on some running member (the leader first when known), retrying until `timeoutMs`. */
  async onAnyMember(
    what: string,
    request: Parameters<MemberProcess['request']>[0],
    timeoutMs: number,
    acceptCodes: readonly string[] = [],
  ): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let lastError: unknown = null;
    while (performance.now() < deadline) {
      const leader = await this.waitForLeader(Math.max(0, deadline - performance.now()));
      const target = leader ?? this.running().find((n) => !n.paused)?.id;
      if (target === undefined) break;
      try {
        await withTimeout(this.node(target).process.request(request), this.#options.requestTimeoutMs + 1000);
        return;
      } catch (error) {
        if (error instanceof SkeinError && acceptCodes.includes(error.code)) return;
        lastError = error;
        await sleep(200);
      }
    }
    throw new Error(`chaos: ${what} did not succeed within ${timeoutMs} ms: ${String(lastError)}`);
  }

  /** kill -9 `id` and wait until it is gone. */
  async kill(id: string): Promise<void> {
    const node = this.node(id);
    await node.process.kill('SIGKILL');
    node.paused = false;
  }

  /** SIGSTOP: the process freezes with its sockets open, as under a long GC pause or a VM stall. */
  pause(id: string): void {
    const node = this.node(id);
    if (node.process.exited || node.paused) return;
    node.process.child.kill('SIGSTOP');
    node.paused = true;
  }

  resume(id: string): void {
    const node = this.node(id);
    if (!node.paused) return;
    node.paused = false;
    if (!node.process.exited) node.process.child.kill('SIGCONT');
  }

  /**
   * Bring a killed node back. `durable`: the same id from its data dir. `replace`: detach the dead
   * id, start an empty process under a new id and attach it. `amnesia`: the same id, empty.
   * Resolves with the id now serving.
   */
  async restart(id: string, timeoutMs: number): Promise<string> {
    const old = this.node(id);
    if (!old.process.exited) throw new Error(`chaos: restart of ${id}, which still runs`);
    old.previousOutput += old.process.output;
    if (this.#options.restart !== 'replace') {
      old.process = this.#spawn(id, old.listen, this.#peersFlag());
      await old.process.ready();
      return id;
    }
    await this.onAnyMember(`detach ${id}`, { cmd: 'detach', ids: [id] }, timeoutMs, [
      'SKEIN_INVALID_CONFIG_CHANGE', // already detached by an earlier attempt
    ]);
    this.#nodes.delete(id);
    this.#retired.push(old);
    const n = (this.#incarnations.get(old.slot) ?? 1) + 1;
    this.#incarnations.set(old.slot, n);
    const newId = `${old.slot}.${n}`;
    const [port] = await freePorts(1);
    const listen = `127.0.0.1:${port}`;
    const proxyAddress = await this.proxy.expose(newId, listen);
    const node: ChaosNode = {
      id: newId,
      slot: old.slot,
      process: this.#spawn(newId, listen, null),
      listen,
      proxyAddress,
      paused: false,
      previousOutput: '',
    };
    this.#nodes.set(newId, node);
    await node.process.ready();
    await this.onAnyMember(
      `attach ${newId}`,
      { cmd: 'attach', nodes: { [newId]: proxyAddress } },
      timeoutMs,
      ['SKEIN_ALREADY_MEMBER'],
    );
    return newId;
  }

  /** Kill every process (SIGKILL: nothing here is worth a graceful exit) and close the proxy. */
  async stop(): Promise<void> {
    for (const node of this.#nodes.values()) if (node.paused) this.resume(node.id);
    await Promise.all([...this.#nodes.values()].map((n) => n.process.kill('SIGKILL')));
    await this.proxy.close();
  }

  #peersFlag(): string {
    return [...this.#nodes.values()].map((n) => `${n.id}=${n.proxyAddress}`).join(',');
  }

  /** `peers` null: start detached, to be attached by a member. */
  #spawn(id: string, listen: string, peers: string | null): MemberProcess {
    const o = this.#options;
    const args = [
      ...['--id', id, '--listen', listen],
      ...(peers === null ? [] : ['--peers', peers]),
      ...['--tick-ms', String(o.tickMs), '--election-ticks', String(o.electionTicks)],
      ...['--request-timeout-ms', String(o.requestTimeoutMs), '--log-level', o.logLevel],
    ];
    if (o.restart === 'durable') {
      if (o.dataRoot === undefined) throw new Error('chaos: durable restarts need a dataRoot');
      const dir = join(o.dataRoot, id);
      mkdirSync(dir, { recursive: true });
      args.push('--data-dir', dir);
    }
    return spawnMember({
      args,
      env: { SKEIN_CLUSTER_SECRET: DEFAULT_TEST_SECRET },
      maxOutputBytes: MAX_OUTPUT_BYTES,
    });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`, or a rejection with SKEIN_TIMEOUT after `ms` (the promise itself keeps running). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new SkeinError('SKEIN_TIMEOUT', `no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}
