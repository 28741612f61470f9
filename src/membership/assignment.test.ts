import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assign, countMoves, type AssignableMember } from './assignment.ts';

function members(...ids: string[]): AssignableMember[] {
  return ids.map((id, i) => ({ id, joinSeq: i + 1 }));
}

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const rest of permutations(n - 1)) {
    for (let at = 0; at <= rest.length; at++) out.push([...rest.slice(0, at), n, ...rest.slice(at)]);
  }
  return out;
}

/** The fewest index changes any assignment of 1..n could make, by trying all n! of them. */
function bruteForceMinMoves(
  previous: ReadonlyMap<string, number>,
  list: readonly AssignableMember[],
): number {
  let best = Number.POSITIVE_INFINITY;
  for (const perm of permutations(list.length)) {
    const candidate = new Map(list.map((m, i) => [m.id, perm[i]!]));
    best = Math.min(best, countMoves(previous, candidate));
  }
  return best;
}

/** A previous assignment: a random subset of `universe` numbered with distinct indexes 1..k. */
const scenario = fc
  .uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), { maxLength: 8 })
  .chain((universe) =>
    fc.record({
      before: fc.shuffledSubarray(universe),
      now: fc.shuffledSubarray(universe, { maxLength: Math.min(6, universe.length) }),
      joinSeqs: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 8, maxLength: 8 }),
    }),
  )
  .map(({ before, now, joinSeqs }) => ({
    previous: new Map(before.map((id, i) => [id, i + 1])),
    list: now.map((id, i) => ({ id, joinSeq: joinSeqs[i]! })),
  }));

function assertOneToN(result: ReadonlyMap<string, number>, list: readonly AssignableMember[]): void {
  assert.equal(result.size, list.length);
  assert.deepEqual(
    [...result.values()].sort((a, b) => a - b),
    list.map((_, i) => i + 1),
  );
  for (const m of list) assert.ok(result.has(m.id));
}

describe('join-order', () => {
  it('numbers members 1..n by joinSeq and compacts after a leave (bloc)', () => {
    const first = assign('join-order', null, members('a', 'b', 'c'));
    assert.deepEqual(
      [...first],
      [
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ],
    );
    const afterLeave = assign(
      'join-order',
      first,
      members('a', 'b', 'c').filter((m) => m.id !== 'b'),
    );
    assert.deepEqual(
      [...afterLeave],
      [
        ['a', 1],
        ['c', 2],
      ],
    );
  });

  it('breaks joinSeq ties by id and ignores the input order', () => {
    const list = [
      { id: 'z', joinSeq: 1 },
      { id: 'b', joinSeq: 2 },
      { id: 'a', joinSeq: 2 },
    ];
    assert.deepEqual(
      [...assign('join-order', null, list)],
      [
        ['z', 1],
        ['a', 2],
        ['b', 3],
      ],
    );
    assert.deepEqual(
      [...assign('join-order', null, list.reverse())],
      [
        ['z', 1],
        ['a', 2],
        ['b', 3],
      ],
    );
  });
});

describe('sticky', () => {
  it('keeps survivors in place and fills gaps with newcomers in join order', () => {
    const previous = new Map([
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ]);
    const list = [
      { id: 'a', joinSeq: 1 },
      { id: 'c', joinSeq: 3 },
      { id: 'd', joinSeq: 4 },
      { id: 'y', joinSeq: 9 },
      { id: 'x', joinSeq: 8 },
    ];
    // b's index 2 is free; x joined before y, so x takes 2 and y takes 5.
    assert.deepEqual(Object.fromEntries(assign('sticky', previous, list)), { a: 1, c: 3, d: 4, x: 2, y: 5 });
  });

  it('moves only the survivors whose index no longer fits after the group shrinks', () => {
    const previous = new Map([
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ]);
    const list = members('a', 'b', 'c', 'd').filter((m) => m.id !== 'a' && m.id !== 'b');
    // total is 2: c (3) and d (4) cannot keep theirs; they take 1 and 2 in join order.
    assert.deepEqual(Object.fromEntries(assign('sticky', previous, list)), { c: 1, d: 2 });
    const one = assign(
      'sticky',
      previous,
      members('a', 'b', 'c', 'd').filter((m) => m.id !== 'b'),
    );
    assert.deepEqual(Object.fromEntries(one), { a: 1, d: 2, c: 3 });
  });

  it('rejects a member listed twice', () => {
    assert.throws(() => assign('sticky', null, [...members('a'), ...members('a')]), {
      code: 'SKEIN_MEMBERSHIP_INVALID_COMMAND',
    });
  });
});

describe('assignment properties', () => {
  it('every strategy hands out exactly 1..n, one index per member', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.constantFrom('sticky' as const, 'join-order' as const),
        ({ previous, list }, s) => {
          assertOneToN(assign(s, previous, list), list);
          assertOneToN(assign(s, null, list), list);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sticky changes the fewest indexes possible (brute force over all n! assignments)', () => {
    fc.assert(
      fc.property(scenario, ({ previous, list }) => {
        const result = assign('sticky', previous, list);
        assert.equal(countMoves(previous, result), bruteForceMinMoves(previous, list));
        // and survivors that fit are exactly the ones that stay
        for (const m of list) {
          const before = previous.get(m.id);
          if (before !== undefined && before <= list.length) assert.equal(result.get(m.id), before);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on input order or on weights', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.constantFrom('sticky' as const, 'join-order' as const),
        ({ previous, list }, s) => {
          const weighted = list.map((m, i) => ({ ...m, weight: i + 0.5 }));
          const expected = [...assign(s, previous, list)].sort();
          assert.deepEqual([...assign(s, previous, [...weighted].reverse())].sort(), expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});
