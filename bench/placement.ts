/**
 * skein/placement against the npm `hashring` package (v3, libketama-compatible, MD5) in the same
 * run: 10 nodes, 1M random keys. For each contender it prints lookups/s (median of timed passes
 * over all keys, all cache misses for hashring since its LRU holds 5000 keys), the busiest node's
 * load over the mean, and the keys moved when an 11th node joins and when node-9 leaves, against
 * the ideal (N/11 for the join, N/10 for the leave). Knobs: PLACEMENT_KEYS, PLACEMENT_PASSES.
 *
 * Each contender runs in its own child process: sharing one process would make the lookup call
 * site megamorphic and let one contender's garbage and JIT state slow the next.
 *
 *   npm run bench:placement
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { Random } from '../src/core/random.ts';
import {
  BoundedLoadPlacement,
  DEFAULT_POINTS_PER_NODE,
  HashRing,
  JumpPlacement,
  Rendezvous,
  RendezvousTable,
  DEFAULT_TABLE_PARTITIONS,
} from '../src/placement/index.ts';
import { median } from './lib/stats.ts';

const KEYS = Number(process.env.PLACEMENT_KEYS ?? 1_000_000);
const PASSES = Number(process.env.PLACEMENT_PASSES ?? 5);
const NODES = Array.from({ length: 10 }, (_, i) => `node-${i}`);
const JOINER = 'node-10';
const LEAVER = 'node-9'; // the last bucket, so jump hash can drop it too

/** What the measurement needs from either side. */
interface Contender {
  readonly name: string;
  readonly passes: number;
  make(nodes: readonly string[]): { owner(key: string): string };
  join(ring: unknown): void;
  leave(ring: unknown): void;
}

interface HashRingPackage {
  get(key: string): string;
  add(server: string): unknown;
  remove(server: string): unknown;
}
type HashRingConstructor = new (servers: string[]) => HashRingPackage;

/** `key-` and 16 hex digits, as flat strings (like keys decoded off the wire, not concatenation ropes). */
function makeKeys(count: number, seed: number): string[] {
  const random = new Random(seed);
  const hex = '0123456789abcdef';
  const codes = new Array<number>(20);
  'key-'.split('').forEach((c, i) => (codes[i] = c.charCodeAt(0)));
  const keys = new Array<string>(count);
  for (let k = 0; k < count; k++) {
    const hi = random.nextUint32();
    const lo = random.nextUint32();
    for (let d = 0; d < 8; d++) {
      codes[4 + d] = hex.charCodeAt((hi >>> (28 - 4 * d)) & 15);
      codes[12 + d] = hex.charCodeAt((lo >>> (28 - 4 * d)) & 15);
    }
    keys[k] = String.fromCharCode(...codes);
  }
  return keys;
}

function skein(name: string, make: (nodes: readonly string[]) => SkeinPlacement): Contender {
  return {
    name,
    passes: PASSES,
    make,
    join: (p) => {
      (p as SkeinPlacement).add(JOINER);
    },
    leave: (p) => {
      (p as SkeinPlacement).remove(LEAVER);
    },
  };
}
type SkeinPlacement = { owner(key: string): string; add(id: string): void; remove(id: string): void };

function hashringContender(): Contender {
  const HashRingPkg = createRequire(import.meta.url)('hashring') as HashRingConstructor;
  return {
    name: 'hashring 3.2 (160 pts, md5)',
    passes: Math.max(1, Math.ceil(PASSES / 2)), // seconds per pass
    make: (nodes) => {
      const ring = new HashRingPkg([...nodes]);
      return { owner: (key: string) => ring.get(key), ring };
    },
    join: (p) => (p as { ring: HashRingPackage }).ring.add(JOINER),
    leave: (p) => (p as { ring: HashRingPackage }).ring.remove(LEAVER),
  };
}

interface Row {
  name: string;
  /** Median over the timed passes, by the wall clock. */
  lookupsPerWallSec: number;
  /** The same by process CPU time: steadier when other work shares the machine. */
  lookupsPerCpuSec: number;
  peakOverMean: number;
  joinMoved: number;
  leaveMoved: number;
  /** Keys that moved between two nodes neither of which joined or left. */
  excessMoves: number;
}

function ownersOf(placement: { owner(key: string): string }, keys: readonly string[]): string[] {
  const owners = new Array<string>(keys.length);
  for (let i = 0; i < keys.length; i++) owners[i] = placement.owner(keys[i]!);
  return owners;
}

/** One timed pass: every key's owner into `out`; returns [wall ms, CPU ms]. */
function timedPass(
  placement: { owner(key: string): string },
  keys: readonly string[],
  out: string[],
): [number, number] {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 0; i < keys.length; i++) out[i] = placement.owner(keys[i]!);
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  return [wallMs, (cpu.user + cpu.system) / 1000];
}

function measure(contender: Contender, keys: readonly string[]): Row {
  const placement = contender.make(NODES);
  const before = new Array<string>(keys.length);
  timedPass(placement, keys.slice(0, 100_000), before); // warm-up: let the JIT settle
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let pass = 0; pass < contender.passes; pass++) {
    const [wallMs, cpuMs] = timedPass(placement, keys, before);
    walls.push(wallMs);
    cpus.push(cpuMs);
  }
  const loads = new Map<string, number>();
  for (const owner of before) loads.set(owner, (loads.get(owner) ?? 0) + 1);
  const peakOverMean = Math.max(...loads.values()) / (keys.length / NODES.length);

  let joinMoved = 0;
  let excessMoves = 0;
  contender.join(placement);
  const joined = ownersOf(placement, keys);
  for (let i = 0; i < keys.length; i++) {
    if (joined[i] === before[i]) continue;
    joinMoved++;
    if (joined[i] !== JOINER) excessMoves++;
  }
  const fresh = contender.make(NODES);
  contender.leave(fresh);
  const left = ownersOf(fresh, keys);
  let leaveMoved = 0;
  for (let i = 0; i < keys.length; i++) {
    if (left[i] === before[i]) continue;
    leaveMoved++;
    if (before[i] !== LEAVER) excessMoves++;
  }
  return {
    name: contender.name,
    lookupsPerWallSec: keys.length / (median(walls) / 1000),
    lookupsPerCpuSec: keys.length / (median(cpus) / 1000),
    peakOverMean,
    joinMoved,
    leaveMoved,
    excessMoves,
  };
}

const CONTENDERS: (() => Contender)[] = [
  () =>
    skein(`skein RendezvousTable (default, P=${DEFAULT_TABLE_PARTITIONS})`, (n) => new RendezvousTable(n)),
  () => skein(`skein HashRing (${DEFAULT_POINTS_PER_NODE} pts)`, (n) => new HashRing(n)),
  () => skein('skein HashRing 160 pts', (n) => new HashRing(n, { pointsPerNode: 160 })),
  () => skein('skein Rendezvous', (n) => new Rendezvous(n)),
  () => skein('skein JumpPlacement', (n) => new JumpPlacement(n)),
  () => skein('skein BoundedLoad c=1.25', (n) => new BoundedLoadPlacement(n)),
  () => skein('skein BoundedLoad c=1.05', (n) => new BoundedLoadPlacement(n, { loadFactor: 1.05 })),
  hashringContender,
];

function runChild(index: number): Row {
  const output = execFileSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, PLACEMENT_CONTENDER: String(index) },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(output.trim().split('\n').at(-1)!) as Row;
}

function report(rows: readonly Row[]): void {
  const peer = rows.at(-1)!;
  const idealJoin = KEYS / (NODES.length + 1);
  const idealLeave = KEYS / NODES.length;
  console.table(
    rows.map((r) => ({
      contender: r.name,
      'M lookups/s (wall)': (r.lookupsPerWallSec / 1e6).toFixed(2),
      '× hashring (wall)': (r.lookupsPerWallSec / peer.lookupsPerWallSec).toFixed(1),
      'M lookups/s (cpu)': (r.lookupsPerCpuSec / 1e6).toFixed(2),
      '× hashring (cpu)': (r.lookupsPerCpuSec / peer.lookupsPerCpuSec).toFixed(1),
      'peak/mean': r.peakOverMean.toFixed(3),
      'join moved/ideal': (r.joinMoved / idealJoin).toFixed(3),
      'leave moved/ideal': (r.leaveMoved / idealLeave).toFixed(3),
      'excess moves': r.excessMoves,
    })),
  );
  const check = (label: string, ok: boolean): void => {
    console.log(`${ok ? 'PASS' : 'MISS'} ${label}`);
  };
  for (const main of rows.slice(0, 2)) checkTargets(main, peer, check);
}

/** The targets, for one of our contenders against the peer. */
function checkTargets(main: Row, peer: Row, check: (label: string, ok: boolean) => void): void {
  const idealJoin = KEYS / (NODES.length + 1);
  const idealLeave = KEYS / NODES.length;
  console.log(`${main.name}:`);
  const wallSpeedup = main.lookupsPerWallSec / peer.lookupsPerWallSec;
  const cpuSpeedup = main.lookupsPerCpuSec / peer.lookupsPerCpuSec;
  check(`  lookups/s ≥ 30× hashring (wall): ${wallSpeedup.toFixed(1)}×`, wallSpeedup >= 30);
  check(`  lookups/s ≥ 30× hashring (cpu): ${cpuSpeedup.toFixed(1)}×`, cpuSpeedup >= 30);
  check(`  peak/mean ≤ 1.05: ${main.peakOverMean.toFixed(3)}`, main.peakOverMean <= 1.05);
  const worstMove = Math.max(main.joinMoved / idealJoin, main.leaveMoved / idealLeave);
  check(`  moved ≤ 1.05× ideal: ${worstMove.toFixed(3)}`, worstMove <= 1.05);
}

const only = process.env.PLACEMENT_CONTENDER;
if (only === undefined) {
  console.log(
    `skein/placement vs hashring: ${NODES.length} nodes, ${KEYS} keys, median of ${PASSES} timed passes ` +
      `(hashring: ${Math.ceil(PASSES / 2)}), node ${process.version}`,
  );
  const loadBefore = loadavg()[0]!;
  const rows = CONTENDERS.map((_, i) => runChild(i));
  report(rows);
  // Other work on the machine slows the wall clock far more than CPU time; say how busy it was.
  console.log(`load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs`);
} else {
  const contender = CONTENDERS[Number(only)]!();
  console.log(JSON.stringify(measure(contender, makeKeys(KEYS, 42))));
}
