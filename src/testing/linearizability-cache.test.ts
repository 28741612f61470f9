import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LinearizedSet, StateCache } from './linearizability-cache.ts';

const capacity = 100;

/** Push `members` in order into a fresh set. */
function setOf(members: readonly number[]): LinearizedSet {
  const set = new LinearizedSet(capacity);
  for (const m of members) set.push(m);
  return set;
}

describe('LinearizedSet', () => {
  it('tracks membership, low, high and hash through pushes and pops like a plain Set', () => {
    const script = fc.array(fc.oneof(fc.integer({ min: 0, max: capacity - 1 }), fc.constant(-1)), {
      maxLength: 200,
    });
    fc.assert(
      fc.property(script, (steps) => {
        const set = new LinearizedSet(capacity);
        const stack: number[] = [];
        for (const step of steps) {
          if (step === -1) {
            if (stack.length === 0) continue;
            stack.pop();
            set.pop();
          } else if (!stack.includes(step)) {
            stack.push(step);
            set.push(step);
          }
          let low = 0;
          while (stack.includes(low)) low++;
          assert.equal(set.low, low);
          assert.equal(set.high, stack.length === 0 ? -1 : Math.max(...stack));
          for (let i = 0; i < capacity; i++) assert.equal(set.has(i), stack.includes(i));
          const fresh = setOf([...stack].sort((a, b) => a - b));
          assert.equal(set.hash, fresh.hash);
          assert.deepEqual(set.window(), fresh.window());
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the window as narrow as the gap between low and high', () => {
    const set = setOf([...Array.from({ length: 70 }, (_, i) => i), 75, 99]);
    assert.equal(set.low, 70);
    assert.equal(set.high, 99);
    assert.equal(set.window().length, 2); // words 2 and 3, not all four
  });
});

describe('StateCache', () => {
  it('finds a configuration only with the same set and an equal state', () => {
    const cache = new StateCache<string>(
      (a, b) => a === b,
      () => 7, // every state collides: equality must still separate them
    );
    assert.equal(cache.add(setOf([0, 2]), 'x'), true);
    assert.equal(cache.add(setOf([2, 0]), 'x'), false);
    assert.equal(cache.add(setOf([0, 2]), 'y'), true);
    assert.equal(cache.add(setOf([0, 3]), 'x'), true);
    assert.equal(cache.add(setOf([0, 1, 2]), 'x'), true);
    assert.equal(cache.add(setOf([1, 2, 0]), 'x'), false);
    assert.ok(cache.bytes > 0);
  });
});
