/**
 * skein/testing: the seeded simulator, fault injection and checkers — for skein's own tests and
 * for users testing their processors and actors.
 * @packageDocumentation
 */
export { SimNetwork, DefaultLinkFaults, type LinkFaults, type SimNetworkStats } from './sim-network.ts';
export { VirtualClock } from '../core/clock.ts';
export { Random } from '../core/random.ts';
export { seedsFromEnv, runSeeds, type SeedFailure } from './seeds.ts';
export {
  RaftSimulation,
  addressOf,
  defaultProcessors,
  kvMachine,
  type SimMachine,
  type RaftSimulationOptions,
} from './raft-sim.ts';
export { randomRaftSchedule } from './raft-schedules.ts';
export { RaftInvariants, InvariantViolation } from './raft-invariants.ts';
export {
  HistoryRecorder,
  Indeterminate,
  type Operation,
  type ClientId,
  type HistoryRecorderOptions,
} from './history.ts';
export {
  checkLinearizable,
  type CheckOptions,
  type CheckVerdict,
  type Counterexample,
  type GiveUpReason,
  type LinearizabilityResult,
  type Model,
  type PartitionResult,
  type StepResult,
} from './linearizability.ts';
export { registerModel, type RegisterInput, type RegisterOutput } from './models/register.ts';
export { kvModel, type KvInput, type KvOutput } from './models/kv.ts';
export { jsonEqual, jsonHash, type JsonValue } from './models/json.ts';
export { SimDisk, SimDiskCrashed, type SimDiskOptions, type CrashOptions } from '../storage/sim-disk.ts';
