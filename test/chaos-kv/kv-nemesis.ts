import type { Random } from '../../src/core/random.ts';
import { sleep } from '../chaos/chaos-cluster.ts';
import type { ProxiedServers } from './proxied-servers.ts';

/** What the nemesis did. */
export interface KvNemesisCounts {
  kills: number;
  leaderKills: number;
  pauses: number;
  partitions: number;
  /** SIGTERM of the leader: it hands leadership over before it stops. */
  transfers: number;
  /** A member killed, removed from the cluster and replaced by a new one that joins (`--join`). */
  replacements: number;
}

/**
 * Faults for {@link ProxiedServers}: kill -9 (half the time of the leader) and restart from the
 * data directory, SIGSTOP/SIGCONT, partitions and leader isolation through the proxy, SIGTERM
 * of the leader (which transfers leadership, then stops) followed by a restart, and on request
 * member replacements (kill -9, removal, a new member with an empty data directory joins). Kills alternate
 * with the other faults (SIGTERM of the leader first) until `kills` kill -9 cycles have run (or `maxDurationMs` passed).
 */
export class KvNemesis {
  readonly counts: KvNemesisCounts = {
    kills: 0,
    leaderKills: 0,
    pauses: 0,
    partitions: 0,
    transfers: 0,
    replacements: 0,
  };
  readonly #servers: ProxiedServers;
  readonly #random: Random;
  readonly #log: (line: string) => void;

  constructor(servers: ProxiedServers, random: Random, log: (line: string) => void) {
    this.#servers = servers;
    this.#random = random;
    this.#log = (line) => {
      log(`nemesis: ${line}`);
    };
  }

  /**
   * Run until `kills` kill -9 cycles are done. With `replacements`, a member replacement joins the
   * rotation of the other faults until that many have run (then its turn is a pause).
   */
  async run(kills: number, maxDurationMs: number, replacements = 0): Promise<void> {
    const deadline = performance.now() + maxDurationMs;
    // A leadership transfer comes first, so that even a one-kill run has one.
    const others = [() => this.#terminateLeader(), () => this.#partition(), () => this.#pause()];
    if (replacements > 0)
      others.push(() => (this.counts.replacements < replacements ? this.#replace() : this.#pause()));
    for (let step = 0; this.counts.kills < kills && performance.now() < deadline; step++) {
      await sleep(this.#random.intBetween(300, 1200)); // clients write something between faults
      await (step % 2 === 1 ? this.#kill() : others[(step >> 1) % others.length]!());
    }
  }

  async #kill(): Promise<void> {
    const leader = this.#random.chance(0.5) ? await this.#servers.leader(2000) : null;
    const i = leader ?? this.#random.int(this.#servers.names.length);
    this.#log(`kill -9 ${this.#servers.names[i]}${leader !== null ? ' (leader)' : ''}`);
    await this.#servers.kill(i, 'SIGKILL');
    this.counts.kills++;
    if (leader !== null) this.counts.leaderKills++;
    await sleep(this.#random.intBetween(100, 1500));
    await this.#servers.restart(i);
    this.#log(`restarted ${this.#servers.names[i]}`);
  }

  /**
   * kill -9 a member (half the time the leader), remove it from the cluster through the others,
   * and start a new member with an empty data directory in its place, which joins the cluster.
   */
  async #replace(): Promise<void> {
    const { names } = this.#servers;
    const leader = this.#random.chance(0.5) ? await this.#servers.leader(2000) : null;
    const i = leader ?? this.#random.int(names.length);
    const name = names[i]!;
    this.#log(`kill -9 ${name}${leader !== null ? ' (leader)' : ''} to replace it`);
    await this.#servers.kill(i, 'SIGKILL');
    await this.#servers.removeMember(name, 60_000);
    this.#log(`removed ${name} from the cluster`);
    const newName = await this.#servers.replace(i);
    this.counts.replacements++;
    this.#log(`replaced ${name} by ${newName} (new name, empty data directory, --join)`);
    const voter = await this.#servers.waitForVoter(newName, 30_000);
    this.#log(voter ? `${newName} is a voter` : `${newName} not yet a voter after 30 s`);
  }

  async #pause(): Promise<void> {
    const i = (await this.#servers.leader(2000)) ?? this.#random.int(this.#servers.names.length);
    this.#log(`SIGSTOP ${this.#servers.names[i]}`);
    this.#servers.pause(i);
    this.counts.pauses++;
    await sleep(this.#random.intBetween(500, 2500));
    this.#servers.resume(i);
    this.#log(`SIGCONT ${this.#servers.names[i]}`);
  }

  async #partition(): Promise<void> {
    const { names, proxy } = this.#servers;
    const leader = await this.#servers.leader(2000);
    const isolated = leader !== null && this.#random.chance(0.5) ? names[leader]! : this.#random.pick(names);
    this.#log(`partition {${isolated}} | {${names.filter((n) => n !== isolated).join(',')}}`);
    proxy.isolate(isolated, names);
    this.counts.partitions++;
    await sleep(this.#random.intBetween(1000, 3500));
    proxy.heal();
    this.#log('heal');
  }

  async #terminateLeader(): Promise<void> {
    const leader = await this.#servers.leader(2000);
    if (leader === null) return;
    this.#log(`SIGTERM ${this.#servers.names[leader]} (leader: transfers leadership, then stops)`);
    await this.#servers.kill(leader, 'SIGTERM');
    this.counts.transfers++;
    const next = await this.#servers.leader(3000);
    this.#log(`leader now ${next === null ? 'unknown' : this.#servers.names[next]!}`);
    await sleep(this.#random.intBetween(100, 1000));
    await this.#servers.restart(leader);
    this.#log(`restarted ${this.#servers.names[leader]}`);
  }
}
