/**
 * The replicated key-value state machine alone (no Raft, no HTTP): what one member's apply loop
 * and local reads cost. Prints
 *   - puts/s overwriting random keys of a 100k-key store (through the 'put' processor, validation included),
 *   - puts/s creating new keys until the store holds 1M (ordered-index inserts),
 *   - prefix ranges of 100 keys/s in a 100k-key store,
 *   - snapshot and restore MB/s of a 1M-key store.
 * No peer runs here: etcd's mvcc is not embeddable; the service-level comparison with etcd lives
 * with the server's benchmark.
 *
 *   node --conditions=skein-source --import tsx bench/kv-store.ts [--keys 100000] [--big-keys 1000000]
 *        [--value-bytes 100] [--puts 1000000] [--ranges 100000] [--runs 3]
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/random.ts';
import { KvStore } from '../src/kv/index.ts';
import { median } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    'big-keys': { type: 'string', default: '1000000' },
    'value-bytes': { type: 'string', default: '100' },
    puts: { type: 'string', default: '1000000' },
    ranges: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
  },
});
const KEYS = Number(values.keys);
const BIG_KEYS = Number(values['big-keys']);
const VALUE = 'v'.repeat(Number(values['value-bytes']));
const PUTS = Number(values.puts);
const RANGES = Number(values.ranges);
const RUNS = Number(values.runs);

/** 100 keys per prefix, like etcd's /registry/<kind>/<name> layout. */
const keyOf = (i: number): string =>
  `/bench/p${String(Math.floor(i / 100)).padStart(5, '0')}/k${String(i % 100).padStart(2, '0')}`;

const rate = (xs: number[]): string => Math.round(median(xs)).toLocaleString('en');

/**
 * Seconds of CPU the process spent in `fn` (user + system). On a shared, busy machine wall time
 * mostly measures the neighbours; CPU time is what the state machine costs. Wall time is printed too.
 */
function timed(fn: () => void): number {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const cpu = process.cpuUsage(c0);
  wallSeconds = (performance.now() - t0) / 1000;
  return (cpu.user + cpu.system) / 1e6;
}
let wallSeconds = 0;

function fill(store: KvStore, n: number): number {
  const put = store.processors().put!;
  return timed(() => {
    for (let i = 0; i < n; i++) put({ key: keyOf(i), value: VALUE });
  });
}

function benchPuts(): void {
  const store = new KvStore();
  fill(store, KEYS);
  const put = store.processors().put!;
  const random = new Random(1);
  const keys = Array.from({ length: PUTS }, () => keyOf(random.int(KEYS)));
  const rates: number[] = [];
  const walls: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const seconds = timed(() => {
      for (const key of keys) put({ key, value: VALUE });
    });
    rates.push(PUTS / seconds);
    walls.push(PUTS / wallSeconds);
  }
  console.log(
    `put (overwrite) into ${KEYS} keys: ${rate(rates)} puts/s of CPU (wall ${rate(walls)}; median of ${RUNS} × ${PUTS})`,
  );
  const floor = rate([floorPutsPerSecond(keys)]);
  console.log(
    `  floor on this machine (map probe, one object, two appends, nothing else): ${floor}/s of CPU`,
  );
}

/** The least a put can cost here: a reference point when the machine is noisy. */
function floorPutsPerSecond(keys: readonly string[]): number {
  const histories = new Map<string, object[]>();
  for (let i = 0; i < KEYS; i++) histories.set(keyOf(i), [{}]);
  const log: object[] = [];
  const seconds = timed(() => {
    for (const key of keys) {
      const kv = { key, value: VALUE, createRevision: 1, modRevision: 2, version: 3, lease: 0 };
      histories.get(key)!.push(kv);
      log.push(kv);
    }
  });
  return keys.length / seconds;
}

function benchRanges(): void {
  const store = new KvStore();
  fill(store, KEYS);
  const random = new Random(2);
  const prefixes = KEYS / 100;
  const rates: number[] = [];
  const walls: number[] = [];
  let total = 0;
  for (let run = 0; run < RUNS; run++) {
    const seconds = timed(() => {
      for (let i = 0; i < RANGES; i++) {
        const prefix = keyOf(random.int(prefixes) * 100).slice(0, -3);
        total += store.range({ key: prefix, prefix: true }).count;
      }
    });
    rates.push(RANGES / seconds);
    walls.push(RANGES / wallSeconds);
  }
  if (total !== RANGES * RUNS * 100) throw new Error(`ranges returned ${total} keys, expected 100 each`);
  console.log(
    `prefix range of 100 keys in ${KEYS} keys: ${rate(rates)} ranges/s of CPU (wall ${rate(walls)})`,
  );
}

async function benchSnapshot(): Promise<void> {
  const store = new KvStore();
  const seconds = fill(store, BIG_KEYS);
  console.log(
    `put (new key) up to ${BIG_KEYS} keys: ${rate([BIG_KEYS / seconds])} puts/s of CPU (wall ${rate([BIG_KEYS / wallSeconds])})`,
  );
  let chunks: Uint8Array[] = [];
  const snap = timed(() => {
    chunks = store.snapshot();
  });
  const bytes = chunks.reduce((n, c) => n + c.byteLength, 0);
  const mb = bytes / 1e6;
  const copy = new KvStore();
  const c0 = process.cpuUsage();
  await copy.restore(
    (async function* () {
      await Promise.resolve();
      yield* chunks;
    })(),
  );
  const cpu = process.cpuUsage(c0);
  const restore = (cpu.user + cpu.system) / 1e6;
  if (copy.keyCount !== BIG_KEYS || copy.revision !== store.revision) throw new Error('restore lost keys');
  console.log(
    `snapshot of ${BIG_KEYS} keys (${mb.toFixed(1)} MB), CPU time: ${(mb / snap).toFixed(0)} MB/s (${(snap * 1000).toFixed(0)} ms); ` +
      `restore ${(mb / restore).toFixed(0)} MB/s (${(restore * 1000).toFixed(0)} ms); ` +
      `snapshot+restore ${(mb / (snap + restore)).toFixed(0)} MB/s`,
  );
  // Half the keys get a second version and a quarter are deleted, then everything before is compacted.
  const put = store.processors().put!;
  const del = store.processors()['delete-range']!;
  for (let i = 0; i < BIG_KEYS; i += 2) put({ key: keyOf(i), value: VALUE });
  for (let i = 1; i < BIG_KEYS; i += 4) del({ key: keyOf(i) });
  const compactSeconds = timed(() => store.processors().compact!({ revision: store.revision }));
  console.log(
    `compact ${BIG_KEYS} keys (${BIG_KEYS / 2} old versions, ${BIG_KEYS / 4} tombstones): ${(compactSeconds * 1000).toFixed(0)} ms of CPU`,
  );
}

console.log(
  `node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}, values of ${VALUE.length} bytes`,
);
benchPuts();
benchRanges();
await benchSnapshot();
