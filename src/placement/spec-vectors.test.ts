import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BoundedLoadPlacement,
  HashRing,
  JumpPlacement,
  Rendezvous,
  RendezvousTable,
  xxh32String,
  type Placement,
} from './index.ts';

// Cross-language vectors: the same table is in docs/placement.md. An implementation in another
// language that follows the specification there must produce exactly these owners(key, 3).
// They pin the specification: if this test fails, owners changed for every deployed cluster.

const nodes = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
const weighted = [
  { id: 'alpha', weight: 1 },
  { id: 'bravo', weight: 2 },
  { id: 'charlie', weight: 0.5 },
  'delta',
  'echo',
];

const placements: Record<string, Placement> = {
  ring16: new HashRing(nodes, { pointsPerNode: 16 }),
  ringDefault: new HashRing(nodes),
  ringWeighted16: new HashRing(weighted, { pointsPerNode: 16 }),
  rendezvous: new Rendezvous(nodes),
  rendezvousWeighted: new Rendezvous(weighted),
  jump: new JumpPlacement(nodes),
  bounded: new BoundedLoadPlacement(nodes, { partitions: 64, pointsPerNode: 16 }),
  table: new RendezvousTable(nodes),
  tableWeighted64: new RendezvousTable(weighted, { partitions: 64 }),
};

const vectors: [key: string, keyHash: number, owners: Record<string, string>][] = [
  [
    '',
    0x02cc5d05,
    {
      ring16: 'echo,bravo,charlie',
      ringDefault: 'alpha,delta,echo',
      ringWeighted16: 'echo,bravo,alpha',
      rendezvous: 'charlie,echo,alpha',
      rendezvousWeighted: 'echo,alpha,charlie',
      jump: 'delta,echo,alpha',
      bounded: 'charlie,delta,bravo',
      table: 'echo,delta,charlie',
      tableWeighted64: 'charlie,bravo,alpha',
    },
  ],
  [
    'a',
    0x550d7456,
    {
      ring16: 'delta,charlie,echo',
      ringDefault: 'bravo,delta,charlie',
      ringWeighted16: 'bravo,delta,charlie',
      rendezvous: 'bravo,charlie,echo',
      rendezvousWeighted: 'bravo,charlie,echo',
      jump: 'alpha,bravo,charlie',
      bounded: 'alpha,bravo,delta',
      table: 'charlie,alpha,echo',
      tableWeighted64: 'bravo,alpha,echo',
    },
  ],
  [
    'user:42',
    0xf64fdf97,
    {
      ring16: 'charlie,bravo,delta',
      ringDefault: 'bravo,alpha,delta',
      ringWeighted16: 'bravo,delta,alpha',
      rendezvous: 'charlie,bravo,alpha',
      rendezvousWeighted: 'bravo,charlie,alpha',
      jump: 'echo,alpha,bravo',
      bounded: 'delta,charlie,bravo',
      table: 'delta,bravo,charlie',
      tableWeighted64: 'bravo,alpha,echo',
    },
  ],
  [
    'order/2026/11/21/000017',
    0xf7a57e4e,
    {
      ring16: 'charlie,bravo,delta',
      ringDefault: 'alpha,delta,charlie',
      ringWeighted16: 'bravo,delta,alpha',
      rendezvous: 'bravo,echo,delta',
      rendezvousWeighted: 'bravo,echo,delta',
      jump: 'charlie,delta,echo',
      bounded: 'alpha,bravo,delta',
      table: 'echo,delta,charlie',
      tableWeighted64: 'bravo,echo,delta',
    },
  ],
  [
    'ключ',
    0x4f28515b,
    {
      ring16: 'echo,alpha,bravo',
      ringDefault: 'delta,echo,charlie',
      ringWeighted16: 'echo,alpha,bravo',
      rendezvous: 'charlie,alpha,delta',
      rendezvousWeighted: 'charlie,alpha,delta',
      jump: 'charlie,delta,echo',
      bounded: 'charlie,bravo,echo',
      table: 'charlie,delta,alpha',
      tableWeighted64: 'alpha,bravo,delta',
    },
  ],
  [
    '🔑',
    0xd228667c,
    {
      ring16: 'alpha,bravo,delta',
      ringDefault: 'bravo,alpha,echo',
      ringWeighted16: 'alpha,bravo,delta',
      rendezvous: 'echo,bravo,alpha',
      rendezvousWeighted: 'bravo,echo,alpha',
      jump: 'delta,echo,alpha',
      bounded: 'delta,bravo,echo',
      table: 'bravo,alpha,delta',
      tableWeighted64: 'delta,bravo,echo',
    },
  ],
];

test('cross-language vectors: key hashes and owners(key, 3) of every strategy', () => {
  for (const [key, keyHash, expected] of vectors) {
    assert.equal(xxh32String(key), keyHash, `XXH32(${JSON.stringify(key)})`);
    for (const [name, placement] of Object.entries(placements)) {
      assert.equal(placement.owners(key, 3).join(','), expected[name], `${name} ${JSON.stringify(key)}`);
    }
  }
});
