/**
 * Lease ids between etcd (int64) and `CoordinationStore` (number).
 *
 * Leases granted through `connectEtcd` get an id chosen by the client below 2^53 (etcd accepts a
 * requested id), so they are exact numbers that etcdctl shows the same way. Leases granted by other
 * etcd clients usually have ids above 2^53, which a number cannot hold: those are given a negative
 * local alias (-1, -2, ...; etcd's ids are always positive) that this connection translates back.
 * Aliases are per connection and bounded (least recently used ones are forgotten).
 */
import { randomBytes } from 'node:crypto';
import { SkeinError } from '../core/errors.ts';
import { KvErrorCode } from '../kv/errors.ts';

export const defaultMaxLeaseAliases = 10_000;

export class LeaseIdMap {
  readonly #maxAliases: number;
  /** alias → etcd id, in least-recently-used-first order (Map keeps insertion order). */
  readonly #byAlias = new Map<number, string>();
  readonly #byEtcd = new Map<string, number>();
  #nextAlias = -1;

  constructor(maxAliases = defaultMaxLeaseAliases) {
    this.#maxAliases = maxAliases;
  }

  /** A fresh lease id for LeaseGrant: uniformly random in [1, 2^53). */
  static randomId(): number {
    const bytes = randomBytes(8);
    const id = Number(bytes.readBigUInt64BE() >> 11n); // 53 random bits
    return id === 0 ? 1 : id;
  }

  /** The number a caller sees for etcd's id ('0': no lease). */
  fromEtcd(etcdId: string | number | undefined): number {
    if (etcdId === undefined || etcdId === '' || etcdId === '0' || etcdId === 0) return 0;
    const asNumber = Number(etcdId);
    if (Number.isSafeInteger(asNumber)) return asNumber;
    const key = BigInt(etcdId).toString();
    const known = this.#byEtcd.get(key);
    if (known !== undefined) {
      this.#touch(known, key);
      return known;
    }
    const alias = this.#nextAlias--;
    this.#byAlias.set(alias, key);
    this.#byEtcd.set(key, alias);
    if (this.#byAlias.size > this.#maxAliases) {
      const [oldest, oldKey] = this.#byAlias.entries().next().value as [number, string];
      this.#byAlias.delete(oldest);
      this.#byEtcd.delete(oldKey);
    }
    return alias;
  }

  /** etcd's id (decimal string) for a caller's number. */
  toEtcd(id: number): string {
    if (!Number.isSafeInteger(id) || id === 0) {
      throw new SkeinError(
        KvErrorCode.InvalidArgument,
        `lease id ${String(id)} is not a lease: fix the request`,
      );
    }
    if (id > 0) return String(id);
    const key = this.#byAlias.get(id);
    if (key === undefined) {
      throw new SkeinError(
        KvErrorCode.InvalidArgument,
        `lease alias ${String(id)} is unknown to this connection (aliases are per connection and the ` +
          `least recently used are forgotten): read the key again to get a current alias`,
      );
    }
    this.#touch(id, key);
    return key;
  }

  #touch(alias: number, key: string): void {
    this.#byAlias.delete(alias);
    this.#byAlias.set(alias, key);
  }
}
