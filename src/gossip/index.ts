/**
 * skein/gossip: SWIM membership with Lifeguard's refinements, and Vivaldi network coordinates.
 * `SwimCore` is the pure protocol state machine; `GossipNode` drives it over a clock and a
 * transport. See docs/gossip.md.
 * @packageDocumentation
 */
export { GossipNode, type GossipNodeOptions, type GossipListener } from './node.ts';
export { SwimCore, type SwimOptions } from './swim.ts';
export { DefaultGossipConfig, resolveGossipConfig, type GossipConfig } from './config.ts';
export { GossipErrorCode } from './errors.ts';
export { GossipEventType, type GossipEvent, type Outgoing } from './events.ts';
export type { MemberInfo } from './members.ts';
export { MemberState, type Metadata, type GossipMessage, type Update, type WireMember } from './messages.ts';
export {
  VivaldiClient,
  DefaultVivaldiConfig,
  distanceS,
  originCoordinate,
  type Coordinate,
  type VivaldiConfig,
} from './vivaldi.ts';
export { suspicionTimeoutMs, minSuspicionTimeoutMs } from './suspicion.ts';
