/**
 * skein/testing: the seeded simulator, fault injection and checkers — for skein's own tests and
 * for users testing their processors and actors.
 * @packageDocumentation
 */
export { SimNetwork, DefaultLinkFaults, type LinkFaults, type SimNetworkStats } from './sim-network.ts';
export { VirtualClock } from '../core/clock.ts';
export { Random } from '../core/random.ts';
export { seedsFromEnv, runSeeds, type SeedFailure } from './seeds.ts';
