import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hasCode } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import {
  BoundedLoadPlacement,
  createPlacement,
  HashRing,
  JumpPlacement,
  PlacementErrorCode,
  Rendezvous,
  RendezvousTable,
  type NodeSpec,
  type Placement,
} from './index.ts';

/** Strategies whose owners depend only on the member SET (jump hash depends on bucket order). */
const setStrategies: Record<string, (nodes: NodeSpec[]) => Placement> = {
  ring: (nodes) => new HashRing(nodes, { pointsPerNode: 64 }),
  rendezvous: (nodes) => new Rendezvous(nodes),
  table: (nodes) => new RendezvousTable(nodes, { partitions: 1024 }),
  bounded: (nodes) => new BoundedLoadPlacement(nodes, { partitions: 256, pointsPerNode: 32 }),
};
/** Strategies with minimal movement for any join or leave. */
const minimal = ['ring', 'rendezvous', 'table'] as const;

const nodeIds = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 12 });
const keyList = fc.array(fc.string({ maxLength: 24 }), { minLength: 1, maxLength: 150 });

function ownersOf(placement: Placement, keys: readonly string[]): string[] {
  return keys.map((key) => placement.owner(key));
}

test('determinism: owners depend on the member set only, not on insertion order or history', () => {
  const weightOf = (seed: number, i: number): number => [1, 1, 2, 0.5][(seed + i) % 4]!;
  for (const [name, make] of Object.entries(setStrategies)) {
    fc.assert(
      fc.property(nodeIds, keyList, fc.string({ minLength: 1 }), fc.nat(), (ids, keys, extra, seed) => {
        fc.pre(!ids.includes(extra));
        const members = ids.map((id, i) => ({ id, weight: weightOf(seed, i) }));
        const a = make(members);
        const shuffled = new Random(seed).shuffle([...members]);
        // A different history: another member joins first and leaves again (its slot is reused).
        const b = make([extra, ...shuffled]);
        b.remove(extra);
        // And another: every member joins one at a time (incremental updates all the way).
        const c = make([]);
        for (const member of shuffled) c.add(member);
        for (const other of [b, c]) {
          assert.deepEqual(ownersOf(other, keys), ownersOf(a, keys), name);
          for (const key of keys.slice(0, 10)) assert.deepEqual(other.owners(key, 3), a.owners(key, 3), name);
          assert.deepEqual(other.nodes(), a.nodes(), name);
        }
      }),
      { numRuns: 60 },
    );
  }
});

test('minimal movement: a join only takes keys onto the new node, a leave only moves its keys', () => {
  for (const name of minimal) {
    const make = setStrategies[name]!;
    fc.assert(
      fc.property(nodeIds, keyList, fc.string({ minLength: 1 }), (ids, keys, joiner) => {
        fc.pre(!ids.includes(joiner));
        const placement = make(ids);
        const before = ownersOf(placement, keys);
        const replicasBefore = keys.map((key) => placement.owners(key, 2));
        placement.add(joiner);
        keys.forEach((key, i) => {
          const now = placement.owner(key);
          assert.ok(now === before[i] || now === joiner, `${name}: ${key} moved ${before[i]} -> ${now}`);
          // Replica sets change only by letting the joiner in.
          for (const replica of placement.owners(key, 2)) {
            assert.ok(
              replica === joiner || replicasBefore[i]!.includes(replica),
              `${name}: replica ${replica}`,
            );
          }
        });
        placement.remove(joiner);
        assert.deepEqual(ownersOf(placement, keys), before, `${name}: join+leave is the identity`);
        const leaver = ids[0]!;
        if (ids.length > 1) {
          placement.remove(leaver);
          keys.forEach((key, i) => {
            if (before[i] !== leaver) assert.equal(placement.owner(key), before[i], `${name}: ${key} moved`);
          });
        }
      }),
      { numRuns: 80 },
    );
  }
});

test('jump hash: appending a bucket or dropping the last moves only that bucket’s keys', () => {
  fc.assert(
    fc.property(nodeIds, keyList, fc.string({ minLength: 1 }), (ids, keys, joiner) => {
      fc.pre(!ids.includes(joiner));
      const jump = new JumpPlacement(ids);
      const before = ownersOf(jump, keys);
      jump.add(joiner);
      keys.forEach((key, i) => {
        const now = jump.owner(key);
        assert.ok(now === before[i] || now === joiner);
      });
      jump.remove(joiner);
      assert.deepEqual(ownersOf(jump, keys), before);
    }),
    { numRuns: 80 },
  );
});

test('owners(key, n) returns n distinct members, the owner first', () => {
  const all: Record<string, (nodes: NodeSpec[]) => Placement> = {
    ...setStrategies,
    jump: (nodes) => new JumpPlacement(nodes),
  };
  for (const [name, make] of Object.entries(all)) {
    fc.assert(
      fc.property(nodeIds, keyList, fc.nat({ max: 15 }), (ids, keys, n) => {
        const placement = make(ids);
        for (const key of keys) {
          const owners = placement.owners(key, n);
          assert.equal(owners.length, Math.min(n, ids.length), name);
          assert.equal(new Set(owners).size, owners.length, `${name}: distinct`);
          for (const owner of owners) assert.ok(ids.includes(owner), name);
          if (n > 0) assert.equal(owners[0], placement.owner(key), `${name}: owner first`);
        }
      }),
      { numRuns: 40 },
    );
  }
});

test('bounded loads: no node ever holds more than ceil(c × P × w / Σw) partitions', () => {
  const member = fc.record({
    id: fc.string({ minLength: 1, maxLength: 8 }),
    weight: fc.constantFrom(1, 2, 0.5, 3),
  });
  const ops = fc.array(fc.tuple(fc.boolean(), member), { minLength: 1, maxLength: 25 });
  fc.assert(
    fc.property(
      fc.constantFrom(1.02, 1.05, 1.25, 2),
      fc.constantFrom(64, 512, 1024),
      ops,
      (loadFactor, partitions, steps) => {
        const placement = new BoundedLoadPlacement([], { loadFactor, partitions, pointsPerNode: 16 });
        const weights = new Map<string, number>();
        for (const [join, { id, weight }] of steps) {
          if (join && !weights.has(id)) {
            placement.add({ id, weight });
            weights.set(id, weight);
          } else if (!join && weights.has(id)) {
            placement.remove(id);
            weights.delete(id);
          }
          const total = [...weights.keys()].sort().reduce((sum, k) => sum + weights.get(k)!, 0);
          let held = 0;
          for (const [node, w] of weights) {
            const cap = Math.ceil((loadFactor * partitions * w) / total);
            assert.ok(placement.capacity(node) >= cap - 1 && placement.capacity(node) <= cap + 1);
            assert.ok(placement.partitionCount(node) <= placement.capacity(node), `${node} over its cap`);
            held += placement.partitionCount(node);
          }
          assert.equal(held, weights.size === 0 ? 0 : partitions, 'every partition has exactly one owner');
        }
      },
    ),
    { numRuns: 60 },
  );
});

/** Keys per node for `count` deterministic keys. */
function loads(placement: Placement, count: number): Map<string, number> {
  const result = new Map<string, number>(placement.nodes().map((id) => [id, 0]));
  for (let i = 0; i < count; i++) {
    const owner = placement.owner(`key-${i}`);
    result.set(owner, result.get(owner)! + 1);
  }
  return result;
}

const ten = Array.from({ length: 10 }, (_, i) => `node-${i}`);

test('balance: peak/mean stays within each strategy’s bound on 10 nodes', () => {
  const keys = 200_000;
  const bounds: [string, Placement, number][] = [
    ['ring (default 4096 points)', new HashRing(ten), 1.05],
    ['rendezvous', new Rendezvous(ten), 1.03],
    ['rendezvous table (default 65536 partitions)', new RendezvousTable(ten), 1.05],
    ['jump', new JumpPlacement(ten), 1.03],
    ['bounded c=1.05', new BoundedLoadPlacement(ten, { loadFactor: 1.05 }), 1.08],
  ];
  for (const [name, placement, bound] of bounds) {
    const peak = Math.max(...loads(placement, keys).values()) / (keys / ten.length);
    assert.ok(peak <= bound, `${name}: peak/mean ${peak.toFixed(3)} > ${bound}`);
  }
});

test('weights: a node of weight w gets w shares', () => {
  const nodes: NodeSpec[] = [{ id: 'heavy', weight: 3 }, 'a', 'b', 'c', { id: 'light', weight: 0.5 }];
  const totalWeight = 3 + 1 + 1 + 1 + 0.5;
  const keys = 100_000;
  const cases: [string, Placement, number][] = [
    ['ring', new HashRing(nodes), 0.06],
    ['rendezvous', new Rendezvous(nodes), 0.03],
    ['table', new RendezvousTable(nodes), 0.04],
    ['bounded', new BoundedLoadPlacement(nodes, { loadFactor: 1.1 }), 0.12],
  ];
  for (const [name, placement, tolerance] of cases) {
    const counts = loads(placement, keys);
    for (const spec of nodes) {
      const id = typeof spec === 'string' ? spec : spec.id;
      const weight = typeof spec === 'string' ? 1 : spec.weight!;
      const ratio = counts.get(id)! / ((keys * weight) / totalWeight);
      assert.ok(Math.abs(ratio - 1) <= tolerance, `${name}: ${id} got ${ratio.toFixed(3)} of its share`);
    }
  }
});

test('errors carry stable codes', () => {
  const code = (fn: () => unknown, expected: string): void => {
    assert.throws(fn, (error) => hasCode(error, expected));
  };
  for (const make of Object.values(setStrategies)) {
    code(() => make([]).owner('k'), PlacementErrorCode.Empty);
    code(() => make(['a', 'a']), PlacementErrorCode.DuplicateNode);
    code(() => {
      make(['a']).remove('b');
    }, PlacementErrorCode.UnknownNode);
    code(() => make([{ id: 'a', weight: 0 }]), 'SKEIN_INVALID_ARGUMENT');
    code(() => make(['a']).owners('k', -1), 'SKEIN_INVALID_ARGUMENT');
    assert.deepEqual(make([]).owners('k', 2), []);
  }
  code(() => {
    new JumpPlacement(['a', 'b']).remove('a');
  }, PlacementErrorCode.Unsupported);
  code(() => new JumpPlacement([{ id: 'a', weight: 2 }]), PlacementErrorCode.Unsupported);
  code(() => new BoundedLoadPlacement(['a'], { loadFactor: 1 }), 'SKEIN_INVALID_ARGUMENT');
  code(
    () => new BoundedLoadPlacement(['a'], { loadFactor: 1.001, partitions: 64 }),
    'SKEIN_INVALID_ARGUMENT',
  );
  code(() => new BoundedLoadPlacement(['a'], { partitions: 1000 }), 'SKEIN_INVALID_ARGUMENT');
});

test('bytes and strings place alike: a string key is its UTF-8 bytes', () => {
  const ring = new HashRing(ten);
  const rendezvous = new Rendezvous(ten);
  for (const key of ['user:42', 'ключ', '🔑-x', '']) {
    const bytes = new TextEncoder().encode(key);
    assert.equal(ring.owner(bytes), ring.owner(key));
    assert.equal(rendezvous.owner(bytes), rendezvous.owner(key));
  }
});

test('createPlacement builds each strategy from configuration, the table by default', () => {
  assert.ok(createPlacement(ten) instanceof RendezvousTable);
  assert.ok(createPlacement(ten, { strategy: 'ring' }) instanceof HashRing);
  assert.ok(createPlacement(ten, { strategy: 'rendezvous' }) instanceof Rendezvous);
  assert.ok(createPlacement(ten, { strategy: 'jump' }) instanceof JumpPlacement);
  assert.ok(
    createPlacement(ten, { strategy: 'bounded-load', loadFactor: 1.5 }) instanceof BoundedLoadPlacement,
  );
  const configured = createPlacement(ten, { strategy: 'ring', pointsPerNode: 64, seed: 9 });
  const direct = new HashRing(ten, { pointsPerNode: 64, seed: 9 });
  for (let i = 0; i < 200; i++) assert.equal(configured.owner(`k${i}`), direct.owner(`k${i}`));
  assert.throws(
    () => createPlacement(ten, { strategy: 'maglev' as 'ring' }),
    (error) => hasCode(error, 'SKEIN_INVALID_CONFIG'),
  );
});
