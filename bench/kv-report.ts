/**
 * The table and the target verdicts of `npm run bench:kv`: medians over runs per
 * (members, op, in-flight, system), a skein/etcd ratio row under each pair, and PASS/MISS per
 * target of the issue.
 */
import type { LoadResult } from './kv-load.ts';
import type { SystemName } from './kv-systems.ts';
import { median } from './lib/stats.ts';

export type Op = 'put' | 'read';

export interface Cell {
  readonly members: number;
  readonly op: Op;
  readonly inflight: number;
}

export interface Summary {
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly clientCpuPct: number;
  readonly clientCpuUsPerOp: number;
  readonly serverCpuUsPerOp: number;
  readonly errors: number;
  readonly runs: readonly number[];
}

/** Results per cell and system, in the order measured. */
export class Results {
  readonly #byKey = new Map<string, LoadResult[]>();
  readonly #cells: Cell[] = [];

  add(cell: Cell, system: SystemName, result: LoadResult): void {
    const key = keyOf(cell, system);
    if (!this.#cells.some((c) => keyOf(c, 'skein') === keyOf(cell, 'skein'))) this.#cells.push(cell);
    const list = this.#byKey.get(key) ?? [];
    list.push(result);
    this.#byKey.set(key, list);
  }

  get cells(): readonly Cell[] {
    return this.#cells;
  }

  summary(cell: Cell, system: SystemName): Summary | undefined {
    const list = this.#byKey.get(keyOf(cell, system));
    if (list === undefined || list.length === 0) return undefined;
    const med = (pick: (r: LoadResult) => number): number => median(list.map(pick));
    return {
      opsPerSec: med((r) => r.opsPerSec),
      p50Ms: med((r) => r.p50Ms),
      p99Ms: med((r) => r.p99Ms),
      clientCpuPct: med((r) => r.clientCpuPct),
      clientCpuUsPerOp: med((r) => r.clientCpuUsPerOp),
      serverCpuUsPerOp: med((r) => r.serverCpuUsPerOp),
      errors: list.reduce((n, r) => n + r.errors, 0),
      runs: list.map((r) => r.opsPerSec),
    };
  }
}

function keyOf(cell: Cell, system: SystemName): string {
  return `${cell.members}/${cell.op}/${cell.inflight}/${system}`;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** One line for one measured run (progress while the bench runs). */
export function runLine(cell: Cell, system: SystemName, r: LoadResult): string {
  return (
    `  ${system.padEnd(5)} ${String(cell.members)} member(s) ${cell.op.padEnd(4)} inflight ${String(cell.inflight).padEnd(3)} ` +
    `${int(r.opsPerSec).padStart(7)} ops/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ` +
    `client ${r.clientCpuPct.toFixed(0)}% CPU` +
    (r.errors > 0 ? `  ${String(r.errors)} errors, first: ${r.firstError ?? ''}` : '')
  );
}

const header =
  'members op   inflight system      ops/s   p50 ms   p99 ms  client CPU%  client µs/op  servers µs/op  runs (ops/s)';

function row(label: string, s: Summary): string {
  return (
    `${label.padEnd(34)}${int(s.opsPerSec).padStart(9)} ${s.p50Ms.toFixed(2).padStart(8)} ${s.p99Ms.toFixed(2).padStart(8)} ` +
    `${s.clientCpuPct.toFixed(0).padStart(11)}% ${s.clientCpuUsPerOp.toFixed(0).padStart(13)} ${s.serverCpuUsPerOp.toFixed(0).padStart(14)}  ` +
    `${s.runs.map(int).join(', ')}${s.errors > 0 ? `  (${String(s.errors)} errors)` : ''}`
  );
}

/** The full table: a row per system and a ratio row (skein/etcd) per cell. */
export function table(results: Results): string {
  const lines = [header];
  for (const cell of results.cells) {
    const label = `${String(cell.members).padEnd(8)}${cell.op.padEnd(5)}${String(cell.inflight).padEnd(9)}`;
    const skein = results.summary(cell, 'skein');
    const etcd = results.summary(cell, 'etcd');
    if (skein !== undefined) lines.push(row(`${label}skein`, skein));
    if (etcd !== undefined) lines.push(row(`${label}etcd`, etcd));
    if (skein !== undefined && etcd !== undefined) {
      const x = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
      lines.push(
        `${' '.repeat(22)}skein/etcd ${x(skein.opsPerSec, etcd.opsPerSec).padStart(9)} ${x(skein.p50Ms, etcd.p50Ms).padStart(8)} ` +
          `${x(skein.p99Ms, etcd.p99Ms).padStart(8)} ${x(skein.clientCpuPct, etcd.clientCpuPct).padStart(12)} ` +
          `${x(skein.clientCpuUsPerOp, etcd.clientCpuUsPerOp).padStart(13)} ${x(skein.serverCpuUsPerOp, etcd.serverCpuUsPerOp).padStart(14)}`,
      );
    }
  }
  return lines.join('\n');
}

/** The issue's targets, each PASS, MISS or n/a (not measured in this run). */
export function targets(results: Results): string {
  const pair = (members: number, inflight: number): [Summary, Summary] | undefined => {
    const cell: Cell = { members, op: 'put', inflight };
    const skein = results.summary(cell, 'skein');
    const etcd = results.summary(cell, 'etcd');
    return skein !== undefined && etcd !== undefined ? [skein, etcd] : undefined;
  };
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  const lines: string[] = [];
  for (const inflight of [64, 256]) {
    const p = pair(3, inflight);
    const name = `3 members, ${String(inflight)} in flight: puts/s ≥ 1.5× etcd, p99 ≤ etcd`;
    if (p === undefined) lines.push(`n/a   ${name} (not measured)`);
    else {
      const [s, e] = p;
      const ratio = s.opsPerSec / e.opsPerSec;
      lines.push(
        `${verdict(ratio >= 1.5 && s.p99Ms <= e.p99Ms)}  ${name}: ${ratio.toFixed(2)}×, ` +
          `p99 ${s.p99Ms.toFixed(2)} vs ${e.p99Ms.toFixed(2)} ms`,
      );
    }
  }
  const seq = pair(3, 1);
  const seqName = '3 members, sequential put: p50 ≤ etcd';
  if (seq === undefined) lines.push(`n/a   ${seqName} (not measured)`);
  else {
    const [s, e] = seq;
    lines.push(
      `${verdict(s.p50Ms <= e.p50Ms)}  ${seqName}: ${s.p50Ms.toFixed(3)} vs ${e.p50Ms.toFixed(3)} ms`,
    );
  }
  const single = pair(1, 64);
  const singleName = '1 member, 64 in flight: puts/s ≥ 1.5× etcd';
  if (single === undefined) lines.push(`n/a   ${singleName} (not measured)`);
  else {
    const ratio = single[0].opsPerSec / single[1].opsPerSec;
    lines.push(`${verdict(ratio >= 1.5)}  ${singleName}: ${ratio.toFixed(2)}×`);
  }
  return lines.join('\n');
}
