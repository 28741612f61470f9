import type { Random } from '../core/random.ts';

/**
 * A Vivaldi network coordinate as Serf/Consul keep them: a Euclidean vector plus a non-negative
 * height (the access-link latency that every path from this node pays), an error estimate, and an
 * adjustment term that absorbs what the Euclidean model cannot. Units are seconds, like Serf's,
 * so the constants below mean what they mean there.
 */
export interface Coordinate {
  readonly vec: readonly number[];
  readonly error: number;
  readonly adjustment: number;
  readonly height: number;
}

/** Vivaldi tuning; defaults are Serf's `coordinate.DefaultConfig()`. */
export interface VivaldiConfig {
  /** Dimensions of the Euclidean part. */
  dimensionality: number;
  /** Ceiling (and starting value) of a node's error estimate. */
  errorMax: number;
  /** Weight of a new sample in the moving error estimate (Vivaldi's c_e). */
  ce: number;
  /** Fraction of the error-weighted force applied per sample (Vivaldi's c_c). */
  cc: number;
  /** Samples averaged into the adjustment term (0 turns adjustments off). */
  adjustmentWindowSize: number;
  /** Smallest height, in seconds. */
  heightMinS: number;
  /** RTT samples per peer whose median is used (a median filter rejects outliers). */
  latencyFilterSize: number;
  /** Gravity toward the origin (seconds); keeps the coordinate system from drifting away. */
  gravityRhoS: number;
  /** Bound on peers whose latency filters are kept. */
  maxPeers: number;
}

export const DefaultVivaldiConfig: Readonly<VivaldiConfig> = {
  dimensionality: 8,
  errorMax: 1.5,
  ce: 0.25,
  cc: 0.25,
  adjustmentWindowSize: 20,
  heightMinS: 10e-6,
  latencyFilterSize: 3,
  gravityRhoS: 150,
  maxPeers: 10_000,
};

const zeroThreshold = 1e-6;

/** A fresh coordinate at the origin with maximal error. */
export function originCoordinate(config: Readonly<VivaldiConfig>): Coordinate {
  return {
    vec: new Array<number>(config.dimensionality).fill(0),
    error: config.errorMax,
    adjustment: 0,
    height: config.heightMinS,
  };
}

/** Estimated round-trip time between two coordinates, in seconds (Serf's `DistanceTo`). */
export function distanceS(a: Coordinate, b: Coordinate): number {
  const dist = rawDistanceS(a, b);
  const adjusted = dist + a.adjustment + b.adjustment;
  return adjusted > 0 ? adjusted : dist;
}

function rawDistanceS(a: Coordinate, b: Coordinate): number {
  return magnitude(a.vec, b.vec) + a.height + b.height;
}

function magnitude(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/**
 * One node's Vivaldi state: its own coordinate, per-peer latency filters and the adjustment window.
 * `update(peerId, peerCoordinate, rttMs)` is fed from probe round trips.
 */
export class VivaldiClient {
  readonly #config: VivaldiConfig;
  readonly #random: Random;
  #coord: Coordinate;
  readonly #origin: Coordinate;
  readonly #adjustmentSamples: number[];
  #adjustmentIndex = 0;
  readonly #filters = new Map<string, number[]>();

  constructor(random: Random, config: Partial<VivaldiConfig> = {}) {
    this.#config = { ...DefaultVivaldiConfig, ...config };
    this.#random = random;
    this.#coord = originCoordinate(this.#config);
    this.#origin = originCoordinate(this.#config);
    this.#adjustmentSamples = new Array<number>(this.#config.adjustmentWindowSize).fill(0);
  }

  get coordinate(): Coordinate {
    return this.#coord;
  }

  get dimensionality(): number {
    return this.#config.dimensionality;
  }

  /** Forget a peer's latency samples (it left or was removed). */
  forget(peerId: string): void {
    this.#filters.delete(peerId);
  }

  /** Fold one RTT observation to `peerId` (whose coordinate is `other`) into our coordinate. */
  update(peerId: string, other: Coordinate, rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs) || other.vec.length !== this.#config.dimensionality) return;
    const rttS = this.#filter(peerId, rttMs / 1000);
    this.#updateVivaldi(other, rttS);
    this.#updateAdjustment(other, rttS);
    this.#updateGravity();
    if (!isValid(this.#coord)) this.#coord = originCoordinate(this.#config); // as Serf: reset on NaN/Inf
  }

  /** Median of the last few samples to this peer. */
  #filter(peerId: string, rttS: number): number {
    let samples = this.#filters.get(peerId);
    if (samples === undefined) {
      if (this.#filters.size >= this.#config.maxPeers) {
        const oldest = this.#filters.keys().next().value;
        if (oldest !== undefined) this.#filters.delete(oldest);
      }
      samples = [];
      this.#filters.set(peerId, samples);
    }
    samples.push(rttS);
    if (samples.length > this.#config.latencyFilterSize) samples.shift();
    const sorted = samples.slice().sort((a, b) => a - b);
    return sorted[sorted.length >> 1]!;
  }

  #updateVivaldi(other: Coordinate, rttS: number): void {
    const config = this.#config;
    const rtt = Math.max(rttS, zeroThreshold);
    const dist = distanceS(this.#coord, other);
    const wrongness = Math.abs(dist - rtt) / rtt;
    const totalError = Math.max(this.#coord.error + other.error, zeroThreshold);
    const weight = this.#coord.error / totalError;
    const error = Math.min(
      config.ce * weight * wrongness + this.#coord.error * (1 - config.ce * weight),
      config.errorMax,
    );
    const force = config.cc * weight * (rtt - dist);
    this.#coord = this.#applyForce({ ...this.#coord, error }, force, other);
  }

  #updateAdjustment(other: Coordinate, rttS: number): void {
    const window = this.#config.adjustmentWindowSize;
    if (window === 0) return;
    this.#adjustmentSamples[this.#adjustmentIndex] = rttS - rawDistanceS(this.#coord, other);
    this.#adjustmentIndex = (this.#adjustmentIndex + 1) % window;
    let sum = 0;
    for (const sample of this.#adjustmentSamples) sum += sample;
    this.#coord = { ...this.#coord, adjustment: sum / (2 * window) };
  }

  #updateGravity(): void {
    const dist = distanceS(this.#origin, this.#coord);
    const force = -1 * Math.pow(dist / this.#config.gravityRhoS, 2);
    this.#coord = this.#applyForce(this.#coord, force, this.#origin);
  }

  /** Move `from` by `force` along the unit vector pointing away from `other` (Serf's `ApplyForce`). */
  #applyForce(from: Coordinate, force: number, other: Coordinate): Coordinate {
    const n = from.vec.length;
    const unit = new Array<number>(n);
    let mag = magnitude(from.vec, other.vec);
    if (mag > zeroThreshold) {
      for (let i = 0; i < n; i++) unit[i] = (from.vec[i]! - other.vec[i]!) / mag;
    } else {
      // Coincident points: push in a random direction so two fresh nodes can separate.
      let norm = 0;
      for (let i = 0; i < n; i++) {
        unit[i] = this.#random.next() - 0.5;
        norm += unit[i]! * unit[i]!;
      }
      norm = Math.sqrt(norm) || 1;
      for (let i = 0; i < n; i++) unit[i] = unit[i]! / norm;
      mag = 0;
    }
    const vec = new Array<number>(n);
    for (let i = 0; i < n; i++) vec[i] = from.vec[i]! + unit[i]! * force;
    let height = from.height;
    if (mag > zeroThreshold) {
      height = Math.max(((from.height + other.height) * force) / mag + from.height, this.#config.heightMinS);
    }
    return { vec, error: from.error, adjustment: from.adjustment, height };
  }
}

function isValid(c: Coordinate): boolean {
  return (
    c.vec.every(Number.isFinite) &&
    Number.isFinite(c.error) &&
    Number.isFinite(c.adjustment) &&
    Number.isFinite(c.height)
  );
}
