import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import type { Processor, SnapshotStateMachine } from '../raft/node-options.ts';
import { compact } from './compaction.ts';
import { kvError, KvErrorCode } from './errors.ts';
import { compareCodePoints } from './key-order.ts';
import { KvDefaults, MAX_MEMBERS, type KvLimits } from './limits.ts';
import { checkReadRevision, eventsSince, rangeAt, scanSelected } from './reads.ts';
import { captureSnapshot, encodeSnapshot, readSnapshot, writeSnapshot } from './snapshot-codec.ts';
import { KvState, latest, tombstone } from './state.ts';
import { evaluateCompare } from './txn.ts';
import type {
  CompactResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeySelector,
  KeyValue,
  LeaseGrantResponse,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnOp,
  TxnOpResponse,
  TxnRequest,
  TxnResponse,
  WatchEvent,
} from './types.ts';
import {
  validateCompact,
  validateDeleteRange,
  validateLeaseGrant,
  validateLeaseRevoke,
  validateMemberPublish,
  validatePut,
  validateTxn,
  type LeaseGrantCommand,
  type LeaseRevokeCommand,
} from './validate.ts';

export type ChangeListener = (revision: number, events: readonly WatchEvent[]) => void;

/**
 * The replicated MVCC key-value state machine: etcd v3's mvcc store and lessor state, as Raft
 * processors plus local reads. Pure and deterministic: every member that applies the same commands
 * reaches byte-identical state (and snapshot), rejected commands included — a processor validates
 * everything before it mutates anything. See docs/kv.md.
 */
export class KvStore implements SnapshotStateMachine {
  readonly #limits: KvLimits;
  #s = new KvState();
  readonly #changeListeners = new Set<ChangeListener>();
  readonly #restoreListeners = new Set<() => void>();
  /** Events of the write being applied; null when nobody listens (saves the allocations). */
  #events: WatchEvent[] | null = null;

  constructor(options: { limits?: Partial<KvLimits> } = {}) {
    this.#limits = { ...KvDefaults, ...options.limits };
    for (const [name, value] of Object.entries(this.#limits)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new SkeinError(
          CoreErrorCode.InvalidConfig,
          `KvLimits.${name} must be a positive integer, not ${value}`,
        );
      }
    }
  }

  get limits(): Readonly<KvLimits> {
    return this.#limits;
  }

  /** Processors for `RaftNode.create({ processors })`; params are the request types of types.ts. */
  processors(): Record<string, Processor> {
    const limits = this.#limits;
    return {
      put: (p) => this.#put(validatePut(p, limits)),
      'delete-range': (p) => this.#deleteRange(validateDeleteRange(p, limits)),
      txn: (p) => this.#txn(validateTxn(p, limits)),
      'lease-grant': (p) => this.#leaseGrant(validateLeaseGrant(p, limits)),
      'lease-revoke': (p) => this.#leaseRevoke(validateLeaseRevoke(p)),
      compact: (p) => this.#compact(validateCompact(p).revision),
      'member-publish': (p) => {
        const { id, name, clientUrl } = validateMemberPublish(p);
        const members = this.#s.members;
        const at = members.findIndex((m) => m.id === id);
        if (at < 0 && members.length >= MAX_MEMBERS) {
          throw kvError(KvErrorCode.Full, `the store keeps at most ${MAX_MEMBERS} members`);
        }
        if (at < 0) members.push({ id, name, clientUrl });
        else members[at] = { id, name, clientUrl };
        return null;
      },
    };
  }

  get revision(): number {
    return this.#s.revision;
  }

  /** Revision history was compacted to (0: never); reads below it fail with SKEIN_COMPACTED. */
  get compactRevision(): number {
    return this.#s.compactRevision;
  }

  /** Live keys. */
  get keyCount(): number {
    return this.#s.liveKeys;
  }

  get leaseCount(): number {
    return this.#s.leases.size;
  }

  /** A local read (wrap in RaftNode.read() for linearizability). `request` must be valid (validateRange). */
  range(request: RangeRequest): RangeResponse {
    const s = this.#s;
    const at = request.revision ?? 0;
    checkReadRevision(s, at);
    const { kvs, count, more } = rangeAt(s, request, at === 0 ? s.revision : at);
    return { kvs, count, more, revision: s.revision };
  }

  lease(id: number): { id: number; grantedTtlSeconds: number; keys: readonly string[] } | undefined {
    const lease = this.#s.leases.get(id);
    if (lease === undefined) return undefined;
    const keys = [...lease.keys].sort(compareCodePoints);
    return { id, grantedTtlSeconds: lease.grantedTtlSeconds, keys };
  }

  /** Every lease, in grant order. */
  leases(): Iterable<{ id: number; grantedTtlSeconds: number }> {
    return this.#s.leases.values();
  }

  members(): readonly { id: string; name: string; clientUrl: string }[] {
    return this.#s.members.slice();
  }

  /**
   * Events with modRevision in [fromRevision, revision] whose key is selected, in revision order
   * (a txn's in the order it wrote them). Once `maxEvents` are gathered it finishes the current
   * revision and stops; `throughRevision` is the last revision fully covered (just before the next
   * selected event, or the store's revision). fromRevision ≤ 0 means "all history still kept".
   * Throws SKEIN_COMPACTED (details.compactRevision) when 0 < fromRevision ≤ compactRevision.
   */
  eventsSince(
    selector: KeySelector,
    fromRevision: number,
    prevKv: boolean,
    maxEvents: number,
  ): { events: WatchEvent[]; throughRevision: number } {
    return eventsSince(this.#s, selector, fromRevision, prevKv, maxEvents);
  }

  /**
   * Called synchronously after each applied write with its revision and all its events (prevKv
   * included where history has it). Listeners must not throw or modify what they are given.
   */
  onChange(listener: ChangeListener): () => void {
    // Wrapped so that subscribing the same function twice gives two independent subscriptions.
    const wrapped: ChangeListener = (revision, events) => {
      listener(revision, events);
    };
    this.#changeListeners.add(wrapped);
    return () => {
      this.#changeListeners.delete(wrapped);
    };
  }

  /** Called after restore() replaced the state: watchers must re-sync from eventsSince. */
  onRestore(listener: () => void): () => void {
    const wrapped = (): void => {
      listener();
    };
    this.#restoreListeners.add(wrapped);
    return () => {
      this.#restoreListeners.delete(wrapped);
    };
  }

  /** The whole state as length-prefixed msgpack frames, serialized now (point in time). */
  snapshot(): Uint8Array[] {
    return writeSnapshot(this.#s);
  }

  /**
   * The same frames as {@link snapshot}, of the state as it is now, but encoded one at a time as
   * they are read: only a cheap copy of the state's structure is made here. This is what a Raft
   * node streams to disk, so that a large store does not stall the event loop while it is saved.
   */
  snapshotStream(): Iterable<Uint8Array> {
    return encodeSnapshot(captureSnapshot(this.#s));
  }

  /** Replace the state with a snapshot from {@link snapshot}; on a bad snapshot the state is unchanged. */
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.#s = await readSnapshot(chunks);
    for (const listener of this.#restoreListeners) listener();
  }

  // ---------------------------------------------------------------------------------------------
  // Writes. Each checks everything that can fail first; after that, nothing throws.
  // ---------------------------------------------------------------------------------------------

  #put(request: PutRequest): PutResponse {
    const s = this.#s;
    const lease = request.lease ?? 0;
    if (lease !== 0 && !s.leases.has(lease)) throw leaseNotFound(lease);
    const versions = s.keys.get(request.key);
    if ((versions === undefined || latest(versions) === undefined) && s.liveKeys >= this.#limits.maxKeys) {
      throw full(this.#limits.maxKeys);
    }
    const revision = this.#begin();
    const prevKv = this.#putKey(request.key, request.value, lease, revision, versions);
    this.#commit(revision);
    return request.prevKv === true && prevKv !== undefined ? { revision, prevKv } : { revision };
  }

  #deleteRange(request: DeleteRangeRequest): DeleteRangeResponse {
    const revision = this.#begin();
    const prevKvs = this.#deleteSelected(request, revision);
    if (prevKvs.length > 0) this.#commit(revision);
    const response = { revision: this.#s.revision, deleted: prevKvs.length };
    return request.prevKv === true ? { ...response, prevKvs } : response;
  }

  #txn(request: TxnRequest): TxnResponse {
    const s = this.#s;
    const succeeded = request.compare.every((c) => evaluateCompare(c, s.keys.get(c.key)));
    const ops = succeeded ? request.success : request.failure;
    this.#checkTxnOps(ops);
    const revision = this.#begin();
    let wrote = false;
    const responses: TxnOpResponse[] = [];
    for (const op of ops) {
      if ('put' in op) {
        const { key, value, lease, prevKv: wantPrev } = op.put;
        const prevKv = this.#putKey(key, value, lease ?? 0, revision, s.keys.get(key));
        wrote = true;
        responses.push({
          put: wantPrev === true && prevKv !== undefined ? { revision, prevKv } : { revision },
        });
      } else if ('range' in op) {
        // Reads see the branch's earlier writes, as in etcd.
        const at = op.range.revision ?? 0;
        const result = rangeAt(s, op.range, at === 0 ? (wrote ? revision : s.revision) : at);
        responses.push({ range: { ...result, revision: wrote ? revision : s.revision } });
      } else {
        const prevKvs = this.#deleteSelected(op.deleteRange, revision);
        wrote ||= prevKvs.length > 0;
        const response = { revision: wrote ? revision : s.revision, deleted: prevKvs.length };
        responses.push({ deleteRange: op.deleteRange.prevKv === true ? { ...response, prevKvs } : response });
      }
    }
    if (wrote) this.#commit(revision);
    return { succeeded, revision: s.revision, responses };
  }

  /** What a txn branch needs before it runs: its leases, its historical reads, room for new keys. */
  #checkTxnOps(ops: readonly TxnOp[]): void {
    const s = this.#s;
    let newKeys = 0;
    for (const op of ops) {
      if ('put' in op) {
        const lease = op.put.lease ?? 0;
        if (lease !== 0 && !s.leases.has(lease)) throw leaseNotFound(lease);
        const versions = s.keys.get(op.put.key);
        if (versions === undefined || latest(versions) === undefined) newKeys++;
      } else if ('range' in op) {
        checkReadRevision(s, op.range.revision ?? 0);
      }
    }
    // Conservative: deletes earlier in the same branch do not make room (documented).
    if (newKeys > 0 && s.liveKeys + newKeys > this.#limits.maxKeys) throw full(this.#limits.maxKeys);
  }

  #leaseGrant(request: LeaseGrantCommand): LeaseGrantResponse {
    const s = this.#s;
    const requested = request.id ?? 0;
    if (requested !== 0 && s.leases.has(requested)) {
      throw kvError(KvErrorCode.LeaseExists, `lease ${requested} exists`, { id: requested });
    }
    if (s.leases.size >= this.#limits.maxLeases) {
      throw kvError(KvErrorCode.Full, `the store holds maxLeases (${this.#limits.maxLeases}) leases`);
    }
    let id = requested;
    if (id === 0) {
      id = s.nextLeaseId;
      while (s.leases.has(id)) id++;
      s.nextLeaseId = id + 1;
    }
    s.leases.set(id, { id, grantedTtlSeconds: request.ttlSeconds, keys: new Set() });
    return { id, ttlSeconds: request.ttlSeconds, revision: s.revision };
  }

  /** Revoke (or expire: `expired` is informational) a lease, deleting its keys at one revision. */
  #leaseRevoke(request: LeaseRevokeCommand): LeaseRevokeResponse {
    const s = this.#s;
    const lease = s.leases.get(request.id);
    if (lease === undefined) throw leaseNotFound(request.id);
    // etcd deletes a lease's keys in key order, in one transaction.
    const keys = [...lease.keys].sort(compareCodePoints);
    const revision = this.#begin();
    for (const key of keys) this.#deleteKey(key, s.keys.get(key)!, revision);
    s.leases.delete(request.id);
    if (keys.length > 0) this.#commit(revision);
    return { revision: s.revision };
  }

  #compact(revision: number): CompactResponse {
    const s = this.#s;
    if (revision <= s.compactRevision) {
      const what = `revision ${revision} is at or below the compaction point ${s.compactRevision}`;
      throw kvError(KvErrorCode.Compacted, what, { compactRevision: s.compactRevision });
    }
    if (revision > s.revision) {
      const what = `cannot compact to ${revision}, beyond the store's revision ${s.revision}`;
      throw kvError(KvErrorCode.FutureRevision, what, { revision: s.revision });
    }
    compact(s, revision);
    return { revision: s.revision };
  }

  /** Start a write at the next revision; events are only gathered when someone listens. */
  #begin(): number {
    this.#events = this.#changeListeners.size > 0 ? [] : null;
    return this.#s.revision + 1;
  }

  /** The write changed something: it takes its revision and listeners hear about it. */
  #commit(revision: number): void {
    this.#s.revision = revision;
    const events = this.#events;
    if (events === null) return;
    this.#events = null;
    for (const listener of this.#changeListeners) {
      try {
        listener(revision, events);
      } catch (error) {
        // The write is applied on every member regardless; a listener bug must not fail the command.
        process.emitWarning(`a KvStore change listener threw at revision ${revision}: ${String(error)}`);
      }
    }
  }

  /** Append a version; returns the previous live version. Capacity and lease were checked. */
  #putKey(
    key: string,
    value: string,
    lease: number,
    revision: number,
    versions: KeyValue[] | undefined,
  ): KeyValue | undefined {
    const s = this.#s;
    const prev = versions === undefined ? undefined : latest(versions);
    const kv: KeyValue =
      prev === undefined
        ? { key, value, createRevision: revision, modRevision: revision, version: 1, lease }
        : {
            key,
            value,
            createRevision: prev.createRevision,
            modRevision: revision,
            version: prev.version + 1,
            lease,
          };
    if (versions === undefined) {
      const history = [kv];
      s.keys.set(key, history);
      s.order.insert(history);
    } else {
      versions.push(kv);
    }
    s.log.push(kv);
    if (prev === undefined) s.liveKeys++;
    const oldLease = prev === undefined ? 0 : prev.lease;
    if (oldLease !== lease) {
      if (oldLease !== 0) s.leases.get(oldLease)?.keys.delete(key);
      if (lease !== 0) s.leases.get(lease)!.keys.add(key);
    }
    this.#events?.push(prev === undefined ? { type: 'put', kv } : { type: 'put', kv, prevKv: prev });
    return prev;
  }

  /** Delete every live selected key at `revision`; returns the deleted versions in key order. */
  #deleteSelected(selector: KeySelector, revision: number): KeyValue[] {
    const deleted: KeyValue[] = [];
    scanSelected(this.#s, selector, (versions) => {
      const prev = latest(versions);
      if (prev !== undefined) deleted.push(this.#deleteKey(prev.key, versions, revision));
      return true;
    });
    return deleted;
  }

  /** Append a tombstone to a live key; returns the version it deleted. */
  #deleteKey(key: string, versions: KeyValue[], revision: number): KeyValue {
    const s = this.#s;
    const prev = versions[versions.length - 1]!;
    const kv = tombstone(key, revision);
    versions.push(kv);
    s.log.push(kv);
    s.liveKeys--;
    if (prev.lease !== 0) s.leases.get(prev.lease)?.keys.delete(key);
    this.#events?.push({ type: 'delete', kv, prevKv: prev });
    return prev;
  }
}

function leaseNotFound(id: number): Error {
  return kvError(KvErrorCode.LeaseNotFound, `lease ${id} does not exist`, { id });
}

function full(maxKeys: number): Error {
  return kvError(KvErrorCode.Full, `the store holds maxKeys (${maxKeys}) live keys`);
}
