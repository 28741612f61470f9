import type { Random } from '../../src/core/random.ts';
import { sleep, withTimeout, type ChaosCluster } from './chaos-cluster.ts';
import type { LinkFault } from './fault-proxy.ts';

/** Options of {@link Nemesis}. */
export interface NemesisOptions {
  readonly cluster: ChaosCluster;
  readonly random: Random;
  readonly log: (line: string) => void;
  /** Stop after this many kill -9 cycles (0: no kill target, run for `durationMs`). */
  readonly kills: number;
  /** Stop after this long when there is no kill target; with one, this is a safety cap. */
  readonly durationMs: number;
  /** Every kill -9 takes the whole cluster down at once (needs durable or amnesia restarts). */
  readonly wholeCluster: boolean;
  /** How long a restart (and in `replace` mode its detach and attach) may take. */
  readonly restartTimeoutMs: number;
}

/** What the nemesis did. */
export interface NemesisCounts {
  /** kill -9 events (one event may kill several processes). */
  killCycles: number;
  processesKilled: number;
  leaderKills: number;
  wholeClusterKills: number;
  pauses: number;
  partitions: number;
  oneWay: number;
  delays: number;
  lossy: number;
  cuts: number;
  transfers: number;
  /** Actions that failed (a transfer refused, ...): logged, not fatal. */
  refused: number;
}

type Step = () => Promise<void>;

const restartKind = {
  durable: 'from its data dir',
  replace: 'new id',
  amnesia: 'EMPTY, same id: unsafe',
} as const;

/**
 * A random fault schedule, one fault at a time: rest, pick a fault, hold it, undo it (heal,
 * SIGCONT, restart), repeat. Every third step is a kill -9; with a kill target, every other step,
 * so that the target is reached in bounded time.
 */
export class Nemesis {
  readonly counts: NemesisCounts = {
    killCycles: 0,
    processesKilled: 0,
    leaderKills: 0,
    wholeClusterKills: 0,
    pauses: 0,
    partitions: 0,
    oneWay: 0,
    delays: 0,
    lossy: 0,
    cuts: 0,
    transfers: 0,
    refused: 0,
  };
  readonly #o: NemesisOptions;
  readonly #startedMs = performance.now();
  #deck: Step[] = [];

  constructor(options: NemesisOptions) {
    this.#o = options;
  }

  /** Run the schedule until the kill target or the duration is reached; everything is healed on return. */
  async run(): Promise<void> {
    const { random, kills } = this.#o;
    let step = 0;
    while (!this.#done()) {
      // Rest first, so that clients have written something before the first fault.
      await sleep(random.intBetween(300, 1500));
      const kill = kills > 0 ? step % 2 === 0 : step % 3 === 0;
      await (kill ? this.#killStep() : this.#nextFault())();
      step++;
    }
  }

  #done(): boolean {
    const elapsedMs = performance.now() - this.#startedMs;
    if (this.#o.kills > 0) return this.counts.killCycles >= this.#o.kills || elapsedMs >= this.#o.durationMs;
    return elapsedMs >= this.#o.durationMs;
  }

  #log(line: string): void {
    this.#o.log(`nemesis: ${line}`);
  }

  #killStep(): Step {
    const { cluster, random } = this.#o;
    const durable = cluster.restartMode === 'durable';
    const roll = random.next();
    // Durable nodes may all die at once: whatever was acknowledged must be on disk.
    if (this.#o.wholeCluster || cluster.restartMode === 'amnesia' || (durable && roll < 0.1)) {
      return () => this.#kill(cluster.ids(), 'the whole cluster');
    }
    if (durable && roll < 0.25 && cluster.ids().length >= 5) {
      return () => this.#kill(random.shuffle(cluster.ids()).slice(0, 2), 'a minority');
    }
    return async () => {
      const leader = random.chance(0.5) ? await cluster.waitForLeader(3000) : null;
      const target = leader ?? random.pick(cluster.ids());
      if (leader !== null) this.counts.leaderKills++;
      await this.#kill([target], leader !== null ? 'the leader' : 'a node');
    };
  }

  async #kill(ids: readonly string[], what: string): Promise<void> {
    const { cluster, random } = this.#o;
    this.#log(`kill -9 ${ids.join(', ')} (${what})`);
    await Promise.all(ids.map((id) => cluster.kill(id)));
    this.counts.killCycles++;
    this.counts.processesKilled += ids.length;
    if (ids.length === cluster.ids().length) this.counts.wholeClusterKills++;
    await sleep(random.intBetween(100, 2000));
    // Restarted together, as after a power cut. In `replace` mode only one node dies at a time.
    await Promise.all(
      ids.map(async (id) => {
        const now = await cluster.restart(id, this.#o.restartTimeoutMs);
        if (now !== id) {
          this.#log(`replaced ${id} by ${now} (new id, empty)`);
          return;
        }
        // Asked at once, before the leader had much time to send anything: what the disk gave back.
        const s = await cluster.status(id, 1000);
        const state = s === null ? '' : `: term ${s.term}, log up to ${s.lastIndex}`;
        this.#log(`restarted ${id} (${restartKind[cluster.restartMode]}${state})`);
      }),
    );
  }

  /**
   * The next fault from a deck that holds each kind once, reshuffled when used up, so that a short
   * run still sees many kinds. A disruptive fault (one that can cost the leader its quorum)
   * alternates with a mild one.
   */
  #nextFault(): Step {
    if (this.#deck.length === 0) {
      const { random } = this.#o;
      const disruptive: Step[] = random.shuffle([
        () => this.#pause(),
        () => this.#partition(),
        () => this.#isolateLeader(),
        () => this.#oneWay(),
      ]);
      const mild: Step[] = random.shuffle([
        () => this.#degrade('delay'),
        () => this.#degrade('lossy'),
        () => this.#cut(),
        () => this.#transfer(),
      ]);
      this.#deck = disruptive.flatMap((step, i) => [step, mild[i]!]);
    }
    return this.#deck.shift()!;
  }

  async #hold(minMs: number, maxMs: number): Promise<void> {
    await sleep(this.#o.random.intBetween(minMs, maxMs));
  }

  #heal(): void {
    this.#o.cluster.proxy.heal();
    this.#log('heal');
  }

  async #pause(): Promise<void> {
    const { cluster, random } = this.#o;
    const leader = random.chance(0.5) ? await cluster.waitForLeader(2000) : null;
    const id = leader ?? random.pick(cluster.ids());
    this.#log(`SIGSTOP ${id}${leader !== null ? ' (leader)' : ''}`);
    cluster.pause(id);
    this.counts.pauses++;
    await this.#hold(500, 3000);
    cluster.resume(id);
    this.#log(`SIGCONT ${id}`);
  }

  async #partition(): Promise<void> {
    const { cluster, random } = this.#o;
    const ids = random.shuffle(cluster.ids());
    const cut = random.intBetween(1, Math.floor(ids.length / 2));
    const groups = [ids.slice(0, cut), ids.slice(cut)];
    const fault = this.#partitionFault();
    this.#log(`partition ${groups.map((g) => `{${g.join(',')}}`).join(' | ')} (${fault.kind})`);
    cluster.proxy.partition(groups, fault);
    this.counts.partitions++;
    await this.#hold(1000, 4000);
    this.#heal();
  }

  async #isolateLeader(): Promise<void> {
    const { cluster } = this.#o;
    const leader = (await cluster.waitForLeader(2000)) ?? this.#o.random.pick(cluster.ids());
    const fault = this.#partitionFault();
    this.#log(`isolate ${leader}, the leader if there is one (${fault.kind})`);
    cluster.proxy.isolate(leader, cluster.ids(), fault);
    this.counts.partitions++;
    await this.#hold(1000, 4000);
    this.#heal();
  }

  /** The leader can hear but not speak, or speak but not hear. */
  async #oneWay(): Promise<void> {
    const { cluster, random } = this.#o;
    const leader = (await cluster.waitForLeader(2000)) ?? random.pick(cluster.ids());
    const others = cluster.ids().filter((id) => id !== leader);
    const outbound = random.chance(0.5);
    this.#log(outbound ? `one-way: ${leader} → others lost` : `one-way: others → ${leader} lost`);
    if (outbound) cluster.proxy.blockOneWay([leader], others);
    else cluster.proxy.blockOneWay(others, [leader]);
    this.counts.oneWay++;
    await this.#hold(1000, 4000);
    this.#heal();
  }

  async #degrade(kind: 'delay' | 'lossy'): Promise<void> {
    const { cluster, random } = this.#o;
    const ids = cluster.ids();
    if (kind === 'delay') {
      const delayMs = random.intBetween(20, 150);
      const jitterMs = random.intBetween(0, 100);
      this.#log(`delay every link ${delayMs} ms + up to ${jitterMs} ms jitter`);
      cluster.proxy.slow(ids, delayMs, jitterMs);
      this.counts.delays++;
    } else {
      const lossProbability = random.intBetween(5, 30) / 100;
      this.#log(`lose ${Math.round(lossProbability * 100)}% of the messages on every link`);
      for (const a of ids)
        for (const b of ids) if (a !== b) cluster.proxy.setLink(a, b, { kind: 'lossy', lossProbability });
      this.counts.lossy++;
    }
    await this.#hold(2000, 5000);
    this.#heal();
  }

  async #cut(): Promise<void> {
    const { cluster, random } = this.#o;
    const id = random.pick(cluster.ids());
    const n = cluster.proxy.cut(id) + cluster.proxy.cut(undefined, id);
    this.#log(`cut ${n} connections of ${id}`);
    this.counts.cuts++;
    await Promise.resolve();
  }

  async #transfer(): Promise<void> {
    const { cluster, random } = this.#o;
    const leader = await cluster.waitForLeader(2000);
    if (leader === null) return;
    const target = random.pick(cluster.ids().filter((id) => id !== leader));
    this.#log(`transfer leadership ${leader} → ${target}`);
    this.counts.transfers++;
    try {
      await withTimeout(cluster.node(leader).process.request({ cmd: 'transfer', target }), 5000);
    } catch (error) {
      this.counts.refused++;
      this.#log(`transfer refused: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  #partitionFault(): LinkFault {
    return this.#o.random.chance(0.7) ? { kind: 'blackhole' } : { kind: 'refuse' };
  }
}
