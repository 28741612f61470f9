/**
 * skein/raft: Raft consensus — a pure, deterministic core (`RaftCore`) and a driver (`RaftNode`)
 * that binds it to a clock, a transport, storage and your processors.
 * @packageDocumentation
 */
export { RaftNode } from './node.ts';
export type {
  RaftNodeOptions,
  EnqueueOptions,
  RaftNodeEvents,
  RaftNodeStatus,
  Processor,
  AppliedCommand,
  SnapshotStateMachine,
} from './node-options.ts';
export { RaftCore, type Ready, type RaftStatus, type ProposeResult, type RaftInitialState } from './raft.ts';
export type { RaftCoreOptions } from './config.ts';
export { RaftErrorCode } from './errors.ts';
export {
  EntryKind,
  Role,
  type Entry,
  type ClusterConfig,
  type ConfigChange,
  type HardState,
  type RaftMessage,
  type ReadState,
  type NodeId,
} from './types.ts';
