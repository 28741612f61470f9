import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../../src/client/skein-client.ts';
import type { StatusResponse } from '../../src/kv/types.ts';
import { sleep } from '../chaos/chaos-cluster.ts';
import type { FaultProxy } from '../chaos/fault-proxy.ts';
import { freePort } from '../support/skein-cluster.ts';

const BIN = fileURLToPath(new URL('../../bin/skein.mjs', import.meta.url));
/** Lines of output kept per member, for failure reports. */
const MAX_LOG_LINES = 400;
/** Every server process running, SIGKILLed when the harness exits, whatever happens to it. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Options of {@link ProxiedServers.start}. */
export interface ProxiedServersOptions {
  readonly size: number;
  readonly proxy: FaultProxy;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly requestTimeoutMs: number;
  readonly logLevel: string;
}

/** The settings every member shares (each adds its name, ports, data directory and how it joins). */
interface SharedArgs {
  readonly flags: readonly string[];
}

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly args: readonly string[];
  child: ChildProcess | null;
  paused: boolean;
  readonly log: string[];
}

/**
 * Real `skein server` processes on 127.0.0.1 whose peer traffic all goes through a
 * {@link FaultProxy}: each member's `--initial-cluster` entry (and so the address it advertises
 * and Raft records) is its proxy listener, which forwards to its real `--listen-peer` port. Client
 * traffic goes straight to `--listen-client`. Data directories (fsync on) survive kill -9, so a
 * killed member restarts under its own name.
 */
export class ProxiedServers {
  readonly proxy: FaultProxy;
  readonly dataDir: string;
  readonly #members: Member[];
  readonly #shared: SharedArgs;
  /** Replacement members started so far (their names end in `.<n>`). */
  #replacements = 0;

  private constructor(proxy: FaultProxy, dataDir: string, members: Member[], shared: SharedArgs) {
    this.proxy = proxy;
    this.dataDir = dataDir;
    this.#members = members;
    this.#shared = shared;
  }

  static async start(o: ProxiedServersOptions): Promise<ProxiedServers> {
    const dataDir = mkdtempSync(join(tmpdir(), 'skein-chaos-kv-'));
    const secretFile = join(dataDir, 'secret');
    writeFileSync(secretFile, 'chaos-kv-cluster-secret-0123456789abcdef\n', { mode: 0o600 });
    const names = Array.from({ length: o.size }, (_, i) => `m${i + 1}`);
    const ports: { client: number; peer: number }[] = [];
    for (const _ of names) ports.push({ client: await freePort(), peer: await freePort() });
    const proxied = await Promise.all(
      names.map((name, i) => o.proxy.expose(name, `127.0.0.1:${ports[i]!.peer}`)),
    );
    const initialCluster = names.map((name, i) => `${name}=${proxied[i]}`).join(',');
    const shared: SharedArgs = {
      flags: [
        ...['--cluster-secret-file', secretFile],
        ...['--tick-ms', String(o.tickMs), '--election-ticks', String(o.electionTicks)],
        ...['--request-timeout-ms', String(o.requestTimeoutMs), '--log-level', o.logLevel],
        // Far below the default (100,000), so that a run snapshots, compacts and installs
        // snapshots on restarted members under the faults too.
        ...['--snapshot-every-entries', '1000'],
      ],
    };
    const members = names.map((name, i): Member => {
      const { client, peer } = ports[i]!;
      const args = [
        ...[BIN, 'server', '--name', name, '--data-dir', join(dataDir, name)],
        ...['--listen-client', `127.0.0.1:${client}`, '--listen-peer', `127.0.0.1:${peer}`],
        ...['--initial-cluster', initialCluster, ...shared.flags],
      ];
      return { name, clientUrl: `http://127.0.0.1:${client}`, args, child: null, paused: false, log: [] };
    });
    const servers = new ProxiedServers(o.proxy, dataDir, members, shared);
    for (let i = 0; i < members.length; i++) servers.#launch(i);
    try {
      await Promise.all(members.map((_, i) => servers.#waitFor(i, '/ready', 60_000)));
    } catch (error) {
      await servers.stop();
      throw error;
    }
    return servers;
  }

  get names(): string[] {
    return this.#members.map((m) => m.name);
  }

  get clientUrls(): string[] {
    return this.#members.map((m) => m.clientUrl);
  }

  running(i: number): boolean {
    return this.#members[i]!.child !== null;
  }

  /** Status of member `i`, or null when it does not answer in time (down, paused, busy). */
  async status(i: number, timeoutMs = 1000): Promise<StatusResponse | null> {
    const m = this.#members[i]!;
    if (m.child === null || m.paused) return null;
    try {
      const answer = await fetch(`${m.clientUrl}/v1/status`, { signal: AbortSignal.timeout(timeoutMs) });
      return answer.ok ? ((await answer.json()) as StatusResponse) : null;
    } catch {
      return null;
    }
  }

  /** Index of the member a majority of the answering members call leader, polling until `timeoutMs`. */
  async leader(timeoutMs: number): Promise<number | null> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const statuses = await Promise.all(this.#members.map((_, i) => this.status(i)));
      const votes = new Map<string, number>();
      for (const s of statuses) if (s?.leader != null) votes.set(s.leader, (votes.get(s.leader) ?? 0) + 1);
      for (const [name, n] of votes) {
        const i = this.names.indexOf(name);
        if (n > this.#members.length / 2 && i >= 0 && statuses[i]?.leader === name) return i;
      }
      if (performance.now() > deadline) return null;
      await sleep(100);
    }
  }

  /** Send `signal` to member `i` and wait until it has exited (SIGKILL, or SIGTERM: transfer and stop). */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.#members[i]!;
    const child = m.child;
    if (child === null) return;
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        resolve();
      }),
    );
    if (m.paused) this.resume(i);
    child.kill(signal);
    await exited;
  }

  /** SIGSTOP: frozen with its sockets open, as under a long GC pause. */
  pause(i: number): void {
    const m = this.#members[i]!;
    if (m.child === null || m.paused) return;
    m.child.kill('SIGSTOP');
    m.paused = true;
  }

  resume(i: number): void {
    const m = this.#members[i]!;
    if (!m.paused) return;
    m.paused = false;
    m.child?.kill('SIGCONT');
  }

  /** Start a stopped member again from its data directory; waits until it answers /health. */
  async restart(i: number): Promise<void> {
    if (this.#members[i]!.child !== null)
      throw new Error(`chaos-kv: restart of ${this.names[i]}, which runs`);
    this.#launch(i);
    await this.#waitFor(i, '/health', 60_000);
  }

  /**
   * Put a new member, under a new name with an empty data directory, in the place of stopped member
   * `i`, which must have been removed from the cluster already: it starts with `--join` pointed at
   * a running member, advertising its own proxy listener as its peer address. Resolves with the new
   * name once it answers /health (the cluster adds it as a learner and promotes it on its own).
   */
  async replace(i: number): Promise<string> {
    const old = this.#members[i]!;
    if (old.child !== null) throw new Error(`chaos-kv: replace of ${old.name}, which runs`);
    const via = this.#members.find((m) => m.child !== null && !m.paused);
    if (via === undefined) throw new Error('chaos-kv: no running member to join through');
    const name = `${old.name.split('.')[0]!}.${++this.#replacements}`;
    const client = await freePort();
    const peer = await freePort();
    const advertised = await this.proxy.expose(name, `127.0.0.1:${peer}`);
    const args = [
      ...[BIN, 'server', '--name', name, '--data-dir', join(this.dataDir, name)],
      ...['--listen-client', `127.0.0.1:${client}`, '--listen-peer', `127.0.0.1:${peer}`],
      ...['--advertise-peer', advertised, '--join', via.clientUrl, ...this.#shared.flags],
    ];
    this.#members[i] = {
      name,
      clientUrl: `http://127.0.0.1:${client}`,
      args,
      child: null,
      paused: false,
      log: [],
    };
    this.#launch(i);
    await this.#waitFor(i, '/health', 60_000);
    return name;
  }

  /**
   * Remove member `name` from the cluster through the running members, retrying until the
   * configuration no longer has it (a removal that timed out may or may not have taken effect).
   */
  async removeMember(name: string, timeoutMs: number): Promise<void> {
    const client = await connect({ endpoints: this.#runningUrls(), requestTimeoutMs: 5000 });
    const deadline = performance.now() + timeoutMs;
    try {
      for (;;) {
        try {
          await client.removeMember(name);
          return;
        } catch (error) {
          const members = await client.members().catch(() => null);
          if (members !== null && !members.some((m) => m.name === name)) return;
          if (performance.now() > deadline)
            throw new Error(`chaos-kv: could not remove ${name}: ${String(error)}`, { cause: error });
          await sleep(200);
        }
      }
    } finally {
      await client.close();
    }
  }

  /** Whether member `name` became a voter within `timeoutMs`. */
  async waitForVoter(name: string, timeoutMs: number): Promise<boolean> {
    const client = await connect({ endpoints: this.#runningUrls(), requestTimeoutMs: 2000 });
    const deadline = performance.now() + timeoutMs;
    try {
      while (performance.now() < deadline) {
        const members = await client.members().catch(() => []);
        if (members.some((m) => m.name === name && !m.learner)) return true;
        await sleep(200);
      }
      return false;
    } finally {
      await client.close();
    }
  }

  #runningUrls(): string[] {
    return this.#members.filter((m) => m.child !== null).map((m) => m.clientUrl);
  }

  logTail(i: number): string {
    return this.#members[i]!.log.join('\n');
  }

  /** SIGKILL everything, close the proxy, remove the data directories. */
  async stop(): Promise<void> {
    await Promise.all(this.#members.map((_, i) => this.kill(i)));
    await this.proxy.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  #launch(i: number): void {
    const m = this.#members[i]!;
    const child = spawn(process.execPath, m.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    m.child = child;
    m.paused = false;
    const keep = (data: Buffer): void => {
      m.log.push(
        ...data
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== ''),
      );
      if (m.log.length > MAX_LOG_LINES) m.log.splice(0, m.log.length - MAX_LOG_LINES);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    live.add(child);
    child.once('exit', () => {
      live.delete(child);
      if (m.child === child) m.child = null;
    });
  }

  async #waitFor(i: number, path: string, timeoutMs: number): Promise<void> {
    const m = this.#members[i]!;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      try {
        if ((await fetch(`${m.clientUrl}${path}`, { signal: AbortSignal.timeout(1000) })).ok) return;
      } catch {
        // not listening yet
      }
      if (m.child === null) throw new Error(`member ${m.name} exited while starting:\n${this.logTail(i)}`);
      if (performance.now() > deadline)
        throw new Error(`member ${m.name} not up in ${timeoutMs} ms:\n${this.logTail(i)}`);
      await sleep(50);
    }
  }
}
