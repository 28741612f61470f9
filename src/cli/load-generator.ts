/** How {@link runLoad} drives a cluster. */
export interface LoadOptions {
  /** Measured time, after the warm-up. */
  readonly durationMs: number;
  /** Unmeasured time first, so JIT and buffers settle. */
  readonly warmupMs: number;
  /** Proposals kept in flight: a new one starts as soon as one completes. */
  readonly outstanding: number;
  /** Bound on latency samples kept (each costs 8 bytes); later samples are not recorded. */
  readonly maxSamples?: number;
}

/** What a load run measured. Latency is propose → applied on the proposing node, in milliseconds. */
export interface LoadResult {
  readonly commits: number;
  readonly elapsedMs: number;
  readonly commitsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** CPU time (user + system) this process spent per completed proposal, warm-up included, in µs. */
  readonly cpuUsPerCommit: number;
  readonly firstError: { code: string; message: string } | null;
}

/**
 * A closed-loop load generator: `outstanding` proposals in flight, each replaced when it
 * completes, for `warmupMs + durationMs`. Throughput counts completions inside the measured
 * window; latency samples only proposals issued inside it. `propose(seq)` must resolve once the
 * command is committed and applied.
 */
export function runLoad(
  propose: (seq: number) => Promise<unknown>,
  options: LoadOptions,
): Promise<LoadResult> {
  const maxSamples = options.maxSamples ?? 4_000_000;
  const samples = new Float64Array(maxSamples);
  let sampleCount = 0;
  let commits = 0;
  let errors = 0;
  let firstError: { code: string; message: string } | null = null;
  let seq = 0;
  let completed = 0;
  let inFlight = 0;
  const cpuStart = process.cpuUsage();
  const startMs = performance.now();
  const measureFromMs = startMs + options.warmupMs;
  const endMs = measureFromMs + options.durationMs;

  return new Promise((resolve) => {
    const finish = (): void => {
      const elapsedMs = options.durationMs;
      const cpu = process.cpuUsage(cpuStart);
      const sorted = samples.subarray(0, sampleCount).sort();
      resolve({
        commits,
        elapsedMs,
        commitsPerSec: elapsedMs > 0 ? (commits * 1000) / elapsedMs : 0,
        p50Ms: percentile(sorted, 0.5),
        p99Ms: percentile(sorted, 0.99),
        errors,
        cpuUsPerCommit: completed > 0 ? (cpu.user + cpu.system) / completed : Number.NaN,
        firstError,
      });
    };
    const issue = (): void => {
      inFlight++;
      const t0 = performance.now();
      propose(seq++).then(
        () => {
          const t1 = performance.now();
          completed++;
          if (t1 >= measureFromMs && t1 <= endMs) {
            commits++;
            if (t0 >= measureFromMs && sampleCount < maxSamples) samples[sampleCount++] = t1 - t0;
          }
          next(t1);
        },
        (error: unknown) => {
          errors++;
          firstError ??= describe(error);
          next(performance.now());
        },
      );
    };
    const next = (nowMs: number): void => {
      inFlight--;
      if (nowMs < endMs) issue();
      else if (inFlight === 0) finish();
    };
    for (let i = 0; i < options.outstanding; i++) issue();
  });
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function describe(error: unknown): { code: string; message: string } {
  const e = error as { code?: unknown; message?: unknown };
  return {
    code: typeof e.code === 'string' ? e.code : 'ERROR',
    message: typeof e.message === 'string' ? e.message : String(error),
  };
}
