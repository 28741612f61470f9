import { compareCodePoints } from './key-order.ts';
import { selects } from './selector.ts';
import type { Compare, KeySelector, KeyValue, TxnOp, WatchEvent } from './types.ts';

/**
 * A deliberately naive executable specification of the store for model-based tests: it keeps a
 * list of every write and answers everything by scanning it. No indexes, no history arrays, no
 * compaction of data (compaction only moves the point below which reads fail). If KvStore and this
 * agree after every random command, the clever structures compute what the simple rules say.
 */
interface Write {
  readonly revision: number;
  readonly key: string;
  readonly value: string;
  readonly lease: number;
  readonly deleted: boolean;
}

export class ModelError extends Error {
  readonly code: string;
  constructor(code: string) {
    super(code);
    this.code = code;
  }
}

export class ReferenceModel {
  readonly writes: Write[] = [];
  revision = 1;
  compactRevision = 0;
  nextLeaseId = 1;
  readonly leases = new Map<number, number>();
  readonly maxKeys: number;

  constructor(maxKeys: number) {
    this.maxKeys = maxKeys;
  }

  kvAt(key: string, revision: number): KeyValue | undefined {
    let kv: KeyValue | undefined;
    for (const w of this.writes) {
      if (w.key !== key || w.revision > revision) continue;
      if (w.deleted) kv = undefined;
      else
        kv = {
          key,
          value: w.value,
          createRevision: kv?.createRevision ?? w.revision,
          modRevision: w.revision,
          version: (kv?.version ?? 0) + 1,
          lease: w.lease,
        };
    }
    return kv;
  }

  /** Live keys at `revision` that the selector selects, in code point order. */
  liveKeys(selector: KeySelector, revision: number): string[] {
    const keys = [...new Set(this.writes.map((w) => w.key))].sort(compareCodePoints);
    return keys.filter((k) => selects(selector, k) && this.kvAt(k, revision) !== undefined);
  }

  range(selector: KeySelector, revision = 0): KeyValue[] {
    if (revision > this.revision) throw new ModelError('SKEIN_FUTURE_REVISION');
    if (revision > 0 && revision < this.compactRevision) throw new ModelError('SKEIN_COMPACTED');
    const at = revision === 0 ? this.revision : revision;
    return this.liveKeys(selector, at).map((k) => this.kvAt(k, at)!);
  }

  events(
    selector: KeySelector,
    from: number,
    maxEvents: number,
  ): { events: WatchEvent[]; throughRevision: number } {
    if (from > 0 && from <= this.compactRevision) throw new ModelError('SKEIN_COMPACTED');
    const events: WatchEvent[] = [];
    let boundary = 0;
    for (const w of this.writes) {
      if (w.revision < from || w.revision <= this.compactRevision || !selects(selector, w.key)) continue;
      if (boundary !== 0 && w.revision !== boundary) return { events, throughRevision: w.revision - 1 };
      const kv = w.deleted
        ? { key: w.key, value: '', createRevision: 0, modRevision: w.revision, version: 0, lease: 0 }
        : this.kvAt(w.key, w.revision)!;
      const prevKv = this.kvAt(w.key, w.revision - 1);
      events.push({ type: w.deleted ? 'delete' : 'put', kv, ...(prevKv === undefined ? {} : { prevKv }) });
      if (boundary === 0 && events.length >= maxEvents) boundary = w.revision;
    }
    return { events, throughRevision: this.revision };
  }

  leaseKeys(id: number): string[] {
    return this.liveKeys({ key: '', prefix: true }, this.revision).filter(
      (k) => this.kvAt(k, this.revision)!.lease === id,
    );
  }

  put(key: string, value: string, lease: number): number {
    if (lease !== 0 && !this.leases.has(lease)) throw new ModelError('SKEIN_LEASE_NOT_FOUND');
    if (
      this.kvAt(key, this.revision) === undefined &&
      this.liveKeys({ key: '', prefix: true }, this.revision).length >= this.maxKeys
    ) {
      throw new ModelError('SKEIN_KV_FULL');
    }
    this.writes.push({ revision: ++this.revision, key, value, lease, deleted: false });
    return this.revision;
  }

  deleteRange(selector: KeySelector): number {
    const keys = this.liveKeys(selector, this.revision);
    if (keys.length > 0) this.revision++;
    for (const key of keys)
      this.writes.push({ revision: this.revision, key, value: '', lease: 0, deleted: true });
    return keys.length;
  }

  txn(compare: readonly Compare[], success: readonly TxnOp[], failure: readonly TxnOp[]): boolean {
    for (const branch of [success, failure]) {
      const puts = branch.flatMap((op) => ('put' in op ? [op.put.key] : []));
      if (new Set(puts).size !== puts.length) throw new ModelError('SKEIN_DUPLICATE_KEY');
      for (const op of branch) {
        if ('deleteRange' in op && puts.some((k) => selects(op.deleteRange, k)))
          throw new ModelError('SKEIN_DUPLICATE_KEY');
      }
    }
    const ok = compare.every((c) => this.#holds(c));
    const ops = ok ? success : failure;
    let fresh = 0;
    for (const op of ops) {
      if (!('put' in op)) continue;
      if ((op.put.lease ?? 0) !== 0 && !this.leases.has(op.put.lease ?? 0))
        throw new ModelError('SKEIN_LEASE_NOT_FOUND');
      if (this.kvAt(op.put.key, this.revision) === undefined) fresh++;
    }
    const live = this.liveKeys({ key: '', prefix: true }, this.revision).length;
    if (fresh > 0 && live + fresh > this.maxKeys) throw new ModelError('SKEIN_KV_FULL');
    const next = this.revision + 1;
    for (const op of ops) {
      if ('put' in op)
        this.writes.push({
          revision: next,
          key: op.put.key,
          value: op.put.value,
          lease: op.put.lease ?? 0,
          deleted: false,
        });
      else if ('deleteRange' in op) {
        for (const key of this.liveKeys(op.deleteRange, next))
          this.writes.push({ revision: next, key, value: '', lease: 0, deleted: true });
      }
    }
    if (this.writes.some((w) => w.revision === next)) this.revision = next;
    return ok;
  }

  grant(ttlSeconds: number, id: number): number {
    if (id !== 0 && this.leases.has(id)) throw new ModelError('SKEIN_LEASE_EXISTS');
    let chosen = id;
    if (chosen === 0) {
      while (this.leases.has(this.nextLeaseId)) this.nextLeaseId++;
      chosen = this.nextLeaseId++;
    }
    this.leases.set(chosen, ttlSeconds);
    return chosen;
  }

  revoke(id: number): void {
    if (!this.leases.has(id)) throw new ModelError('SKEIN_LEASE_NOT_FOUND');
    const keys = this.leaseKeys(id);
    if (keys.length > 0) this.revision++;
    for (const key of keys)
      this.writes.push({ revision: this.revision, key, value: '', lease: 0, deleted: true });
    this.leases.delete(id);
  }

  compact(revision: number): void {
    if (revision <= this.compactRevision) throw new ModelError('SKEIN_COMPACTED');
    if (revision > this.revision) throw new ModelError('SKEIN_FUTURE_REVISION');
    this.compactRevision = revision;
  }

  #holds(c: Compare): boolean {
    const kv = this.kvAt(c.key, this.revision);
    const actual = c.target === 'value' ? (kv?.value ?? '') : (kv?.[c.target] ?? 0);
    const order =
      typeof actual === 'string'
        ? compareCodePoints(actual, c.value as string)
        : actual - (c.value as number);
    return { '=': order === 0, '!=': order !== 0, '<': order < 0, '>': order > 0 }[c.op];
  }
}
