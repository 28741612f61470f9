import { Random } from '../../src/core/random.ts';
import { KvStateMachine } from '../../src/cli/kv-state-machine.ts';
import { RaftNode } from '../../src/raft/node.ts';
import { MemoryHub, type Delivery } from './memory-transport.ts';

/** Three (or more) RaftNodes in this process on a {@link MemoryHub}, with the CLI's kv state machine. */
export interface InProcessCluster {
  readonly nodes: readonly RaftNode[];
  readonly leader: RaftNode;
  readonly kvs: readonly KvStateMachine[];
  readonly hub: MemoryHub;
  stop(): Promise<void>;
}

export async function startInProcessCluster(options: {
  size: number;
  delivery: Delivery;
  seed: number;
}): Promise<InProcessCluster> {
  const hub = new MemoryHub({ delivery: options.delivery });
  const ids = Array.from({ length: options.size }, (_, i) => `n${i + 1}`);
  const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${10_000 + i}`]));
  const random = new Random(options.seed);
  const kvs = ids.map(() => new KvStateMachine());
  const nodes = await Promise.all(
    ids.map((id, i) =>
      RaftNode.create({
        id,
        address: peers[id]!,
        peers,
        processors: kvs[i]!.processors(),
        stateMachine: kvs[i]!,
        transport: hub.transport(id),
        random: random.fork(),
        tickIntervalMs: 50,
        electionTicks: 20,
        requestTimeoutMs: 30_000,
      }),
    ),
  );
  const first = nodes[0]!;
  const elected = new Promise<void>((resolve) => {
    first.on('leader', (leaderId) => {
      if (leaderId === first.id) resolve();
    });
  });
  first.campaign();
  await elected;
  return {
    nodes,
    leader: first,
    kvs,
    hub,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
