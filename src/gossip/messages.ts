import type { Coordinate } from './vivaldi.ts';

/** Per-member metadata: small, flat, gossiped with every alive update (role, capacity, cpu, ...). */
export type Metadata = Readonly<Record<string, string | number | boolean>>;

/** A member's state as one node sees it. */
export const MemberState = {
  Alive: 'alive',
  Suspect: 'suspect',
  /** Failed: declared dead by the failure detector. */
  Dead: 'dead',
  /** Left gracefully; never probed or reconnected again. */
  Left: 'left',
} as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

/**
 * A disseminated fact about one member. `dead` with `from === id` is a graceful leave.
 * Updates about the same member are ordered by incarnation; only the member itself raises it.
 */
export type Update =
  | { readonly k: 'alive'; readonly id: string; readonly inc: number; readonly meta: Metadata }
  | { readonly k: 'suspect'; readonly id: string; readonly inc: number; readonly from: string }
  | { readonly k: 'dead'; readonly id: string; readonly inc: number; readonly from: string };

/** One row of a full-state sync. */
export interface WireMember {
  readonly id: string;
  readonly inc: number;
  readonly st: MemberState;
  readonly meta: Metadata;
}

/** The messages of the protocol. `up` carries piggybacked updates (SWIM's infection-style dissemination). */
export type GossipMessage =
  | { readonly t: 'ping'; readonly seq: number; readonly target: string; readonly up: readonly Update[] }
  | {
      readonly t: 'ack';
      readonly seq: number;
      readonly coord: Coordinate | null;
      readonly up: readonly Update[];
    }
  | { readonly t: 'preq'; readonly seq: number; readonly target: string }
  | { readonly t: 'nack'; readonly seq: number }
  | { readonly t: 'gossip'; readonly up: readonly Update[] }
  | { readonly t: 'sync'; readonly reply: boolean; readonly members: readonly WireMember[] };

const states = new Set<unknown>(Object.values(MemberState));

/** Bounds a message from the network must respect (from the receiver's GossipConfig). */
export interface MessageLimits {
  readonly maxUpdates: number;
  readonly maxMembers: number;
  readonly maxMetadataKeys: number;
  /** Vivaldi dimensionality (0 when Vivaldi is off). */
  readonly dimensions: number;
}

/**
 * Validate a decoded message from the network. Anything malformed or over a bound is dropped
 * (returns undefined): a peer running other code must not be able to crash or corrupt this member.
 */
export function parseMessage(raw: unknown, limits: MessageLimits): GossipMessage | undefined {
  if (!isObject(raw)) return undefined;
  const updatesOk = (up: unknown): boolean =>
    Array.isArray(up) &&
    up.length <= limits.maxUpdates &&
    up.every((u) => isUpdate(u, limits.maxMetadataKeys));
  switch (raw['t']) {
    case 'ping':
      return isSeq(raw['seq']) && isId(raw['target']) && updatesOk(raw['up'])
        ? (raw as GossipMessage)
        : undefined;
    case 'ack': {
      if (!isSeq(raw['seq']) || !updatesOk(raw['up'])) return undefined;
      // A coordinate we cannot use (Vivaldi off here, or another dimensionality) must not cost
      // the ack itself: that would turn a configuration mismatch into failure detections.
      const coord = isCoordinate(raw['coord'], limits.dimensions) ? raw['coord'] : null;
      return { t: 'ack', seq: raw['seq'], coord, up: raw['up'] as Update[] };
    }
    case 'preq':
      return isSeq(raw['seq']) && isId(raw['target']) ? (raw as GossipMessage) : undefined;
    case 'nack':
      return isSeq(raw['seq']) ? (raw as GossipMessage) : undefined;
    case 'gossip':
      return updatesOk(raw['up']) ? (raw as GossipMessage) : undefined;
    case 'sync': {
      const members = raw['members'];
      return typeof raw['reply'] === 'boolean' &&
        Array.isArray(members) &&
        members.length <= limits.maxMembers &&
        members.every((m) => isWireMember(m, limits.maxMetadataKeys))
        ? (raw as GossipMessage)
        : undefined;
    }
    default:
      return undefined;
  }
}

function isUpdate(u: unknown, maxMetadataKeys: number): boolean {
  if (!isObject(u) || !isId(u['id']) || !isInc(u['inc'])) return false;
  switch (u['k']) {
    case 'alive':
      return isMetadata(u['meta'], maxMetadataKeys);
    case 'suspect':
    case 'dead':
      return isId(u['from']);
    default:
      return false;
  }
}

function isWireMember(m: unknown, maxMetadataKeys: number): boolean {
  return (
    isObject(m) &&
    isId(m['id']) &&
    isInc(m['inc']) &&
    states.has(m['st']) &&
    isMetadata(m['meta'], maxMetadataKeys)
  );
}

/**
 * Metadata is a flat object of at most `maxKeys` scalars, so that equality is cheap, its size is
 * bounded and the wire form is language-neutral.
 */
export function isMetadata(meta: unknown, maxKeys: number): meta is Metadata {
  if (!isObject(meta)) return false;
  let keys = 0;
  for (const key in meta) {
    if (++keys > maxKeys) return false;
    const value = meta[key];
    if (
      typeof value !== 'string' &&
      typeof value !== 'boolean' &&
      !(typeof value === 'number' && Number.isFinite(value))
    )
      return false;
  }
  return true;
}

export function metadataEqual(a: Metadata, b: Metadata): boolean {
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  for (const key of aKeys) if (a[key] !== b[key]) return false;
  return true;
}

function isCoordinate(c: unknown, dimensions: number): c is Coordinate {
  if (!isObject(c)) return false;
  const vec = c['vec'];
  return (
    Array.isArray(vec) &&
    vec.length === dimensions &&
    vec.every(isFiniteNumber) &&
    isFiniteNumber(c['error']) &&
    isFiniteNumber(c['adjustment']) &&
    isFiniteNumber(c['height'])
  );
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
function isId(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= 512;
}
function isSeq(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}
const isInc = isSeq;
function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}
