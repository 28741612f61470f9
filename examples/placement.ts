/**
 * Which node owns a key, with the default placement (`RendezvousTable`): owners and replica sets,
 * what moves when a node joins or leaves, and weights.
 *
 *   node --conditions=skein-source --import tsx examples/placement.ts
 *
 * Everything here is a pure function of the member list, so every process computes the same
 * answers with no coordination. Exits 0 when every claim below held, non-zero otherwise.
 */
import assert from 'node:assert/strict';
import { createPlacement, RendezvousTable } from 'skein/placement';

const keys = Array.from({ length: 20_000 }, (_, i) => `user:${i}`);

/** How many of `keys` each node owns. */
function counts(placement: RendezvousTable): Map<string, number> {
  const result = new Map<string, number>(placement.nodes().map((id) => [id, 0]));
  for (const key of keys) {
    const owner = placement.owner(key);
    result.set(owner, (result.get(owner) ?? 0) + 1);
  }
  return result;
}

// --- 1. Owners and replica sets --------------------------------------------------------------------
const placement = new RendezvousTable(['cache-a', 'cache-b', 'cache-c']);
for (const key of ['user:1', 'user:2', 'order:77']) {
  console.log(`${key} -> owner ${placement.owner(key)}, replicas ${placement.owners(key, 2).join(', ')}`);
}
// The owner comes first in its replica set, and the set holds distinct nodes.
for (const key of keys.slice(0, 1_000)) {
  const owners = placement.owners(key, 3);
  assert.equal(owners[0], placement.owner(key));
  assert.equal(new Set(owners).size, 3);
}
// Another process that builds the same member list, in any order, agrees on every key.
// createPlacement() with no strategy builds the default, the RendezvousTable.
const elsewhere = createPlacement();
for (const id of ['cache-c', 'cache-a', 'cache-b']) elsewhere.add(id);
for (const key of keys) assert.equal(elsewhere.owner(key), placement.owner(key));
console.log('a second placement built in another order agrees on all keys');

// --- 2. A node joins: only keys that now belong to it move ------------------------------------------
const before = new Map(keys.map((key) => [key, placement.owner(key)]));
placement.add('cache-d');
let moved = 0;
for (const key of keys) {
  const now = placement.owner(key);
  if (now === before.get(key)) continue;
  assert.equal(now, 'cache-d', `${key} moved from ${before.get(key)} to ${now}, not to the joiner`);
  moved++;
}
// About a quarter of the keys should move to the fourth node: far from none and far from all.
const share = moved / keys.length;
assert.ok(share > 0.2 && share < 0.3, `expected about 25% of keys to move, saw ${share}`);
console.log(`cache-d joined: ${moved} of ${keys.length} keys moved, all of them to cache-d`);

// --- 3. A node leaves: only its own keys move -----------------------------------------------------
const beforeLeave = new Map(keys.map((key) => [key, placement.owner(key)]));
placement.remove('cache-b');
for (const key of keys) {
  const was = beforeLeave.get(key);
  if (was !== 'cache-b') assert.equal(placement.owner(key), was, `${key} moved although its owner stayed`);
  else assert.notEqual(placement.owner(key), 'cache-b');
}
console.log(`cache-b left: only its keys moved; members now ${placement.nodes().join(', ')}`);

// --- 4. Weights: a node of weight 2 owns about twice as many keys -----------------------------------
const weighted = new RendezvousTable(['small-1', 'small-2', { id: 'big', weight: 2 }]);
const load = counts(weighted);
console.log('weighted load:', Object.fromEntries(load));
const big = load.get('big') ?? 0;
for (const id of ['small-1', 'small-2']) {
  const ratio = big / (load.get(id) ?? 1);
  assert.ok(ratio > 1.8 && ratio < 2.2, `big should own ~2x ${id}'s keys, ratio ${ratio.toFixed(2)}`);
}
console.log('placement: ok');
