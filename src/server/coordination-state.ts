import { decode } from '../core/codec.ts';
import { SkeinError } from '../core/errors.ts';
import { KvStore, type KvLimits } from '../kv/index.ts';
import { encodeFrame } from '../kv/snapshot-codec.ts';
import {
  DEFAULT_MEMBERSHIP_LIMITS,
  type MemberPlace,
  GroupMachine,
  MembershipErrorCode,
  restoreGroups,
  snapshotGroups,
  type GroupChange,
  type MembershipCommand,
  type MembershipLimits,
} from '../membership/index.ts';
import type { Processor, SnapshotStateMachine } from '../raft/node-options.ts';

/** What `group-join` returns to its proposer. */
export interface JoinApplied {
  readonly changes: readonly GroupChange[];
  /** The member's place right after this join applied (null only if the join was a no-op for a replaced member). */
  readonly place: MemberPlace | null;
}

/** Called with what each applied membership command changed (the leader's settle clock listens). */
export type GroupChangeListener = (changes: readonly GroupChange[]) => void;

/** Largest encoded group state a snapshot may carry (the machine's limits keep it far below). */
const MAX_GROUPS_SNAPSHOT_BYTES = 512 * 1024 * 1024;
const FORMAT = 'skein-coordination';
const FORMAT_VERSION = 1;

/**
 * Everything a coordination-service member replicates: the MVCC key-value store and the groups
 * of skein/membership, applied from one Raft log. The two meet at sessions: a group member is
 * bound to a lease, a join naming a missing lease is refused, and the apply that removes a lease
 * (revoke or expiry) removes its group members in the same step — so no member ever sees a group
 * that still counts a member whose session is gone.
 */
export class CoordinationState implements SnapshotStateMachine {
  readonly kv: KvStore;
  readonly #membershipLimits: MembershipLimits;
  #groups: GroupMachine;
  readonly #groupListeners = new Set<GroupChangeListener>();
  readonly #restoreListeners = new Set<() => void>();

  constructor(options: { kvLimits?: Partial<KvLimits>; membershipLimits?: MembershipLimits } = {}) {
    this.kv = new KvStore(options.kvLimits === undefined ? {} : { limits: options.kvLimits });
    this.#membershipLimits = options.membershipLimits ?? DEFAULT_MEMBERSHIP_LIMITS;
    this.#groups = new GroupMachine(this.#membershipLimits);
  }

  /** The replicated groups (read-only use: views, lists, the settling set). */
  get groups(): GroupMachine {
    return this.#groups;
  }

  /** Processors for `RaftNode.create`: the store's, plus `group-join`, `group-leave`, `group-settle`. */
  processors(): Record<string, Processor> {
    const kv = this.kv.processors();
    const revoke = kv['lease-revoke']!;
    return {
      ...kv,
      'lease-revoke': (params) => {
        const result = revoke(params);
        // Reached only when the lease existed and is now gone (revoke throws otherwise).
        this.#applyGroups({ type: 'session-expired', session: (params as { id: number }).id });
        return result;
      },
      'group-join': (params) => {
        const join = joinCommand(params);
        if (this.kv.lease(join.session) === undefined) {
          throw new SkeinError(
            MembershipErrorCode.SessionNotFound,
            `session ${join.session} is not a live lease; grant a lease and join with its id`,
          );
        }
        const { changes } = this.#applyGroups(join);
        // The member's place as of this very apply: read later, a racing join of the same member
        // id (another process, another session) could already have replaced it.
        return { changes, place: this.#groups.placeOf(join.group, join.member) };
      },
      'group-leave': (params) => this.#applyGroups({ ...record(params), type: 'leave' } as MembershipCommand),
      'group-settle': (params) =>
        this.#applyGroups({ ...record(params), type: 'settle' } as MembershipCommand),
    };
  }

  /** Subscribe to group changes as they are applied. Returns the unsubscribe function. */
  onGroupChanges(listener: GroupChangeListener): () => void {
    const wrapped: GroupChangeListener = (changes) => {
      listener(changes);
    };
    this.#groupListeners.add(wrapped);
    return () => this.#groupListeners.delete(wrapped);
  }

  /** Called after {@link restore} replaced the groups (a leader's settle clock must start over). */
  onRestore(listener: () => void): () => void {
    const wrapped = (): void => {
      listener();
    };
    this.#restoreListeners.add(wrapped);
    return () => this.#restoreListeners.delete(wrapped);
  }

  /**
   * One frame (the store's framing: u32 length + msgpack) holding the groups, then the store's
   * own snapshot frames: the state as of the last apply. The groups are encoded now; the store
   * is captured now and encoded as the frames are read (see KvStore.snapshotStream).
   */
  snapshot(): Iterable<Uint8Array> {
    const groups = encodeFrame([FORMAT, FORMAT_VERSION, snapshotGroups(this.#groups)]);
    const store = this.kv.snapshotStream();
    return (function* () {
      yield groups;
      yield* store;
    })();
  }

  /**
   * Replace both parts. A stream that starts with the store's own header (a snapshot from before
   * groups existed, or an offline-restored backup) restores the store and no groups. On a bad
   * snapshot nothing changes: the groups are decoded first and swapped in only after the store
   * restored.
   */
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const reader = new PrefixReader(chunks);
    const lengthBytes = await reader.read(4);
    const length = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 4).getUint32(0);
    if (length > MAX_GROUPS_SNAPSHOT_BYTES) throw corrupt(`first frame claims ${length} bytes`);
    const body = await reader.read(length);
    const head = decode(body);
    let groups: GroupMachine;
    if (Array.isArray(head) && head[0] === FORMAT) {
      if (head[1] !== FORMAT_VERSION) throw corrupt(`version ${String(head[1])} is not supported`);
      if (!(head[2] instanceof Uint8Array)) throw corrupt('the groups are not bytes');
      groups = restoreGroups(head[2], this.#membershipLimits);
      await this.kv.restore(reader.rest());
    } else {
      groups = new GroupMachine(this.#membershipLimits);
      await this.kv.restore(reader.rest([lengthBytes, body]));
    }
    this.#groups = groups;
    for (const listener of this.#restoreListeners) listener();
  }

  #applyGroups(command: MembershipCommand): { changes: readonly GroupChange[] } {
    const result = this.#groups.apply(command);
    if (!result.ok) throw new SkeinError(result.code, result.message);
    if (result.changes.length > 0) for (const listener of this.#groupListeners) listener(result.changes);
    return { changes: result.changes };
  }
}

function record(params: unknown): Record<string, unknown> {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new SkeinError(MembershipErrorCode.InvalidCommand, 'a membership command must be an object');
  }
  return params as Record<string, unknown>;
}

/** A join as the log carries it; `joinSeq` is never taken from a client (the machine orders joins). */
function joinCommand(params: unknown): MembershipCommand & { type: 'join'; session: number } {
  const { joinSeq: _ignored, ...rest } = record(params);
  const join = { ...rest, type: 'join' } as MembershipCommand & { type: 'join'; session: number };
  if (typeof join.session !== 'number') {
    throw new SkeinError(MembershipErrorCode.InvalidCommand, 'session must be a lease id');
  }
  return join;
}

function corrupt(what: string): SkeinError {
  return new SkeinError('SKEIN_SNAPSHOT_CORRUPT', `coordination snapshot is corrupt: ${what}`);
}

/** Reads exact byte counts off the front of a chunk stream, then hands over the remainder. */
class PrefixReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #buffered: Uint8Array = new Uint8Array(0);

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.#iterator = chunks[Symbol.asyncIterator]();
  }

  async read(length: number): Promise<Uint8Array> {
    const parts = [this.#buffered];
    let have = this.#buffered.byteLength;
    while (have < length) {
      const next = await this.#iterator.next();
      if (next.done === true) throw corrupt(`stream ended inside a ${length}-byte header`);
      parts.push(next.value);
      have += next.value.byteLength;
    }
    const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
    this.#buffered = joined.subarray(length);
    return joined.subarray(0, length);
  }

  /** `prefix` chunks, then whatever was buffered, then the rest of the stream. */
  async *rest(prefix: readonly Uint8Array[] = []): AsyncIterable<Uint8Array> {
    yield* prefix;
    if (this.#buffered.byteLength > 0) yield this.#buffered;
    for (;;) {
      const next = await this.#iterator.next();
      if (next.done === true) return;
      yield next.value;
    }
  }
}
