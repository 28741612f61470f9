import { SkeinError } from '../core/errors.ts';

/** What a duration option accepts: at least `least` ms, at most `most`, and 0 when `zeroMeans` says what it does. */
export interface MsOptionLimits {
  readonly least: number;
  readonly most?: number;
  /** Accept 0, which means this (e.g. "never"). */
  readonly zeroMeans?: string;
}

/**
 * Refuse a duration option outside `limits` with SKEIN_INVALID_ARGUMENT, naming it and what it
 * accepts. `undefined` (the option left out) passes: the caller applies its default.
 */
export function checkMsOption(name: string, value: number | undefined, limits: MsOptionLimits): void {
  if (value === undefined) return;
  const { least, most = 2 ** 31 - 1, zeroMeans } = limits;
  if (value === 0 && zeroMeans !== undefined) return;
  if (Number.isFinite(value) && value >= least && value <= most) return;
  const range = `between ${least} and ${most} ms`;
  throw new SkeinError(
    'SKEIN_INVALID_ARGUMENT',
    `${name} must be ${zeroMeans === undefined ? range : `0 (${zeroMeans}) or ${range}`}, got ${String(value)}`,
  );
}
