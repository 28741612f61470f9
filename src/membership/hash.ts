import { SkeinError } from '../core/errors.ts';
import { CoreErrorCode } from '../core/errors.ts';
import { jumpHash, xxh32String } from '../placement/index.ts';

/**
 * Which member index (1-based) owns `key` in a settled group of `total` members:
 *
 *     ownerIndex(key, total) = jump(XXH32(UTF-8(key), seed 0) zero-extended to 64 bits, total) + 1
 *
 * XXH32 and jump consistent hash are exactly skein/placement's (docs/placement.md, with its
 * reference vectors), so any language that implements those two agrees with us; docs/membership.md
 * lists vectors for this function. Jump hash moves only 1/(n+1) of the keys when a group grows
 * from n to n+1 and only the last index's keys when it shrinks, which pairs well with sticky
 * assignment (survivors keep low indexes; the last indexes are the ones that come and go).
 *
 * @throws SkeinError `SKEIN_INVALID_ARGUMENT` when `total` is not an integer in 1..2^31−1.
 */
export function ownerIndex(key: string, total: number): number {
  if (!Number.isInteger(total) || total < 1 || total > 0x7fffffff) {
    throw new SkeinError(
      CoreErrorCode.InvalidArgument,
      `ownerIndex needs a total between 1 and 2^31-1 (got ${String(total)}); ask a settled group for its total`,
    );
  }
  return jumpHash(0, xxh32String(key, 0), total) + 1;
}

/** True when the member holding `index` of `total` owns `key`. */
export function owns(index: number, total: number, key: string): boolean {
  return ownerIndex(key, total) === index;
}
