/**
 * skein's coordination service vs etcd, side by side, in one run. For each cluster size, each run
 * starts a fresh skein cluster (real `skein server` processes) and a fresh etcd 3.4 cluster (Debian's
 * etcd), both on loopback with fsync on, and drives each in turn with the same closed-loop Node
 * load generator in THIS process (the servers are child processes): 8-byte keys, 256-byte values,
 * puts then linearizable reads at each in-flight level. skein is driven through skein/client, etcd
 * through npm etcd3, both talking to the leader.
 *
 * Prints per row ops/s, p50, p99, the client process's CPU (% of a core and µs/op), the servers' CPU
 * per op (all members together), the skein/etcd ratio, and PASS/MISS per target of the issue.
 *
 *   npm run bench:kv -- [--duration-ms 20000] [--warmup-ms 1000] [--inflight 1,64,256] [--members 3,1]
 *                       [--runs 1] [--skip-etcd] [--only put|read] [--cpu-prof-dir dir]
 *                       [--skein-connections n]   (HTTP sockets per member for skein/client; its default 64)
 *                       [--skein-http]            (skein/client without its RPC channel: kv over HTTP too)
 *
 * --cpu-prof-dir profiles every skein member (V8 .cpuprofile per process; the leader's pid is
 * printed); summarize one with `node --import tsx bench/lib/cpu-profile-summary.ts <file>`. To
 * profile the client, run node itself with --cpu-prof:
 *   node --cpu-prof --conditions=skein-source --import tsx bench/kv.ts --skip-etcd --inflight 64
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { closedLoop } from './kv-load.ts';
import { Results, runLine, table, targets, type Cell, type Op } from './kv-report.ts';
import { SYSTEMS, startSystem, type RunningSystem, type SystemName } from './kv-systems.ts';

const { values } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '20000' },
    'warmup-ms': { type: 'string', default: '1000' },
    inflight: { type: 'string', default: '1,64,256' },
    members: { type: 'string', default: '3,1' },
    runs: { type: 'string', default: '1' },
    'skip-etcd': { type: 'boolean', default: false },
    only: { type: 'string' },
    'key-space': { type: 'string', default: '100000' },
    'cpu-prof-dir': { type: 'string' },
    'skein-connections': { type: 'string' },
    'skein-http': { type: 'boolean', default: false },
  },
});

const durationMs = Number(values['duration-ms']);
const warmupMs = Number(values['warmup-ms']);
const runs = Number(values.runs);
const keySpace = Number(values['key-space']);
const levels = values.inflight.split(',').map(Number);
const memberCounts = values.members.split(',').map(Number);
if (![durationMs, warmupMs, runs, keySpace, ...levels].every((n) => Number.isSafeInteger(n) && n >= 0)) {
  throw new Error(
    '--duration-ms, --warmup-ms, --runs, --key-space and --inflight take non-negative integers',
  );
}
if (keySpace < 1 || keySpace > 10_000_000) throw new Error('--key-space is 1..10000000 (keys are 8 bytes)');
if (levels.some((n) => n < 1)) throw new Error('--inflight levels must be ≥ 1');
const sizes = memberCounts.filter((n): n is 1 | 3 | 5 => n === 1 || n === 3 || n === 5);
if (sizes.length !== memberCounts.length) throw new Error('--members takes 1, 3 and/or 5, e.g. 3,1');
if (values.only !== undefined && values.only !== 'put' && values.only !== 'read') {
  throw new Error('--only is put or read');
}
const skeinConnections =
  values['skein-connections'] === undefined ? undefined : Number(values['skein-connections']);
if (skeinConnections !== undefined && !(Number.isSafeInteger(skeinConnections) && skeinConnections >= 1)) {
  throw new Error('--skein-connections is a positive integer (sockets per member)');
}
const ops: readonly Op[] = values.only === undefined ? ['put', 'read'] : [values.only];
const systems: readonly SystemName[] = values['skip-etcd'] ? ['skein'] : SYSTEMS;

/** 8-byte keys: "k" and 7 digits. Reads cycle over the first `readKeys`, written before reads start. */
const keyOf = (i: number): string => `k${String(i % keySpace).padStart(7, '0')}`;
const readKeys = Math.min(keySpace, 1000);
const value = 'v'.repeat(256);

/** Load average, and Linux's CPU pressure (share of time some task waited for a CPU) when available. */
function loadLine(when: string): string {
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  let pressure = '';
  try {
    const some = /avg10=([\d.]+) avg60=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (some !== null)
      pressure = `; CPU pressure (some) ${some[1] ?? '?'}% over 10 s, ${some[2] ?? '?'}% over 60 s`;
  } catch {
    // no PSI on this kernel
  }
  return `load average ${when}: ${load} (${String(availableParallelism())} cores)${pressure}`;
}

async function measure(system: RunningSystem, members: number, results: Results): Promise<void> {
  // Reads need keys to exist whatever --only says: write them first, outside any measurement.
  await Promise.all(Array.from({ length: readKeys }, (_, i) => system.put(keyOf(i), value)));
  for (const inflight of levels) {
    for (const op of ops) {
      const cell: Cell = { members, op, inflight };
      const result = await closedLoop(
        op === 'put' ? (seq) => system.put(keyOf(seq), value) : (seq) => system.get(keyOf(seq % readKeys)),
        { inflight, durationMs, warmupMs },
      );
      results.add(cell, system.name, result);
      console.log(runLine(cell, system.name, result));
    }
  }
}

async function main(): Promise<void> {
  console.log(
    `kv: skein vs etcd, ${sizes.join(' and ')} member(s) on 127.0.0.1, fsync on, fresh data directories per run; ` +
      `closed loop in one Node process (node ${process.version}), 8-byte keys (${keySpace.toLocaleString('en-US')}), ` +
      `256-byte values; in flight ${levels.join(', ')}; ${ops.join(' + ')}; ` +
      `median of ${String(runs)} run(s) × ${String(durationMs)} ms after ${String(warmupMs)} ms warm-up.\n` +
      `skein via skein/client (${values['skein-http'] ? 'HTTP only, no RPC channel' : 'kv over its RPC channel'}; ` +
      `${skeinConnections === undefined ? 'its default HTTP sockets per member' : `${String(skeinConnections)} HTTP sockets per member`}), ` +
      'etcd via npm etcd3 (given the leader URL); reads are linearizable.\n' +
      'NOTE: this machine is shared and noisy; compare skein with etcd within one run, not across runs.\n' +
      loadLine('at start'),
  );
  const results = new Results();
  for (let run = 0; run < runs; run++) {
    for (const members of sizes) {
      for (const name of systems) {
        const system = await startSystem(name, {
          members,
          cpuProfDir: name === 'skein' ? values['cpu-prof-dir'] : undefined,
          skeinConnections: skeinConnections,
          skeinRpc: !values['skein-http'],
        });
        console.log(
          `run ${String(run + 1)}/${String(runs)}: ${name}, ${String(members)} member(s), leader ${system.leader}`,
        );
        try {
          await measure(system, members, results);
        } finally {
          await system.stop();
        }
      }
    }
  }
  console.log(`\n${loadLine('at end')}\n`);
  console.log(table(results));
  console.log(`\nTargets (medians):\n${targets(results)}`);
}

await main();
