/** A simulation that failed for one seed, with what is needed to replay it. */
export interface SeedFailure {
  seed: number;
  error: unknown;
}

/**
 * Seeds for a property run. `SKEIN_SEED=<n>` replays exactly one seed; otherwise `count` seeds
 * starting at `SKEIN_SEED_BASE` (default 1), and `SKEIN_SEEDS` overrides `count`.
 */
export function seedsFromEnv(count: number): number[] {
  const only = process.env['SKEIN_SEED'];
  if (only !== undefined && only !== '') return [Number(only)];
  const total = Number(process.env['SKEIN_SEEDS'] ?? count);
  const base = Number(process.env['SKEIN_SEED_BASE'] ?? 1);
  return Array.from({ length: total }, (_, i) => base + i);
}

/**
 * Run `simulate` for every seed; on the first failure throw an error that names the seed and the
 * command that replays it. The simulation itself must be deterministic in its seed.
 */
export function runSeeds(name: string, seeds: readonly number[], simulate: (seed: number) => void): void {
  for (const seed of seeds) {
    try {
      simulate(seed);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `simulation "${name}" failed with seed ${seed}: ${message}\n  replay: SKEIN_SEED=${seed} npm test (or: npm run sim -- --seed ${seed})`,
        { cause: error },
      );
    }
  }
}
