/**
 * The closed-loop load generator of `npm run bench:kv`: `inflight` workers, each issuing its next
 * request as soon as the previous one completes. Only requests issued after the warm-up count.
 * Also measures the CPU this (client) process and the server processes (our child processes,
 * read from /proc) burn while measuring, so a result says what each op cost on both sides.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface LoadOptions {
  readonly inflight: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Stop early after this many failed requests (a broken cluster should not spin for 20 s). */
  readonly maxErrors?: number;
}

export interface LoadResult {
  readonly ops: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly firstError: string | null;
  /** CPU of this process over the measured window, as % of one core. */
  readonly clientCpuPct: number;
  readonly clientCpuUsPerOp: number;
  /** CPU of all server processes (children of this process) per op, all members together. */
  readonly serverCpuUsPerOp: number;
}

/** Run `op(seq)` in a closed loop; `seq` counts up from 0 across all workers. */
export async function closedLoop(
  op: (seq: number) => Promise<unknown>,
  options: LoadOptions,
): Promise<LoadResult> {
  const maxErrors = options.maxErrors ?? 1000;
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const end = measureFrom + options.durationMs;
  const latenciesMs: number[] = [];
  let seq = 0;
  let errors = 0;
  let firstError: string | null = null;
  // Set by the warm-up timer; an object so that the checks below see the closure's writes.
  const at: { cpu: NodeJS.CpuUsage | null; childrenUs: number } = { cpu: null, childrenUs: 0 };
  const markStart = (): void => {
    at.cpu = process.cpuUsage();
    at.childrenUs = childrenCpuUs();
  };
  const warmupTimer = setTimeout(markStart, options.warmupMs);

  const worker = async (): Promise<void> => {
    while (errors < maxErrors) {
      const issuedAt = performance.now();
      if (issuedAt >= end) return;
      try {
        await op(seq++);
        if (issuedAt >= measureFrom) latenciesMs.push(performance.now() - issuedAt);
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.inflight }, worker));
  clearTimeout(warmupTimer);
  if (at.cpu === null) markStart(); // stopped during warm-up (errors): report zeros
  const wallMs = Math.max(1, performance.now() - measureFrom);
  const cpu = process.cpuUsage(at.cpu ?? undefined);
  const clientCpuUs = cpu.user + cpu.system;
  const serverCpuUs = childrenCpuUs() - at.childrenUs;
  const ops = latenciesMs.length;
  latenciesMs.sort((a, b) => a - b);
  return {
    ops,
    opsPerSec: (ops * 1000) / wallMs,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    errors,
    firstError,
    clientCpuPct: clientCpuUs / 10 / wallMs,
    clientCpuUsPerOp: ops === 0 ? 0 : clientCpuUs / ops,
    serverCpuUsPerOp: ops === 0 ? 0 : serverCpuUs / ops,
  };
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Linux reports process CPU in clock ticks of 1/100 s (CLK_TCK is 100 on every Linux we run on). */
const usPerTick = 10_000;

export interface ChildProcessInfo {
  readonly pid: number;
  readonly cmdline: string;
  readonly cpuUs: number;
}

/** Our direct child processes (the servers), from /proc; empty where /proc does not exist. */
export function childProcesses(): ChildProcessInfo[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: ChildProcessInfo[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesized command name: state ppid ... utime(14) stime(15).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue;
      const ticks = Number(fields[11]) + Number(fields[12]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      found.push({ pid: Number(entry), cmdline, cpuUs: ticks * usPerTick });
    } catch {
      // the process exited while we looked
    }
  }
  return found;
}

/** CPU of the servers: every child but tsx's esbuild service (a child of the load generator). */
function childrenCpuUs(): number {
  return childProcesses()
    .filter((child) => !child.cmdline.includes('esbuild'))
    .reduce((sum, child) => sum + child.cpuUs, 0);
}
