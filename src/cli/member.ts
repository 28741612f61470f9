import type { Logger } from '../core/log.ts';
import { RaftNode } from '../raft/node.ts';
import { createTcpTransport, type TcpTransport } from '../transport/index.ts';
import { FileStorage } from '../storage/file-storage.ts';
import { KvStateMachine } from './kv-state-machine.ts';
import { transferAndStop } from '../server/graceful-leave.ts';
import type { MemberConfig } from './raft-flags.ts';

/** A running Raft member: the node, its TCP transport and its key-value state machine. */
export interface Member {
  readonly node: RaftNode;
  readonly transport: TcpTransport;
  readonly kv: KvStateMachine;
  /** The address peers dial ("host:port"). */
  readonly address: string;
  /**
   * Leave gracefully: a leader first hands leadership to its most up-to-date voter (bounded by
   * `transferTimeoutMs`, default the longest election timeout), then the node stops. Safe to call
   * more than once.
   */
  shutdown(reason: string, transferTimeoutMs?: number): Promise<void>;
}

/** Start one member over TCP with the built-in key-value state machine. */
export async function startMember(config: MemberConfig, logger: Logger): Promise<Member> {
  const transport = await createTcpTransport({
    id: config.id,
    listen: config.listen,
    clusterSecret: config.clusterSecret,
    ...(Object.hasOwn(config.peers, config.id) ? { advertise: config.peers[config.id]! } : {}),
    logger,
  });
  const address = transport.address;
  const peers = config.startAlone === true ? { [config.id]: address } : config.peers;
  const detached = Object.keys(peers).length === 0;
  const kv = new KvStateMachine();
  let node: RaftNode;
  try {
    node = await RaftNode.create({
      id: config.id,
      address: peers[config.id] ?? address,
      ...(detached ? {} : { peers }),
      processors: kv.processors(),
      // Snapshots let the log be compacted and new members catch up from a copy of the map.
      stateMachine: kv,
      transport,
      tickIntervalMs: config.tickIntervalMs,
      electionTicks: config.electionTicks,
      requestTimeoutMs: config.requestTimeoutMs,
      ...(config.dataDir !== undefined
        ? { storage: new FileStorage(config.dataDir, { nodeId: config.id, logger }) }
        : {}),
      logger,
    });
  } catch (error) {
    await transport.close();
    throw error;
  }
  if (detached)
    logger.info({ address }, 'started detached: waiting for a cluster member to attach this node');
  node.on('leader', (leaderId, term) => {
    logger.info({ leader: leaderId, term }, leaderId === null ? 'no leader' : 'leader elected');
  });
  node.on('error', (error) => {
    logger.error({ err: error }, 'raft node failed');
  });
  let stopping: Promise<void> | null = null;
  // The core abandons a transfer after an election timeout; waiting longer than the longest one is pointless.
  const defaultTransferMs = Math.min(
    config.requestTimeoutMs,
    2 * config.electionTicks * config.tickIntervalMs,
  );
  const shutdown = (reason: string, transferTimeoutMs = defaultTransferMs): Promise<void> => {
    stopping ??= transferAndStop(node, logger, reason, transferTimeoutMs);
    return stopping;
  };
  return { node, transport, kv, address, shutdown };
}
