import type { Logger } from '../core/log.ts';
import type { RaftNode } from '../raft/node.ts';
import type { NodeId } from '../raft/types.ts';

/**
 * Leave gracefully: a leader first hands leadership to its most up-to-date voter (bounded by
 * `transferTimeoutMs`), so the cluster does not wait out an election timeout; then the node stops,
 * which flushes its storage.
 */
export async function transferAndStop(
  node: RaftNode,
  logger: Logger,
  reason: string,
  transferTimeoutMs: number,
): Promise<void> {
  logger.info({ reason }, 'shutting down');
  const target = node.status().role === 'leader' ? bestTransferTarget(node) : null;
  if (target !== null) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no new leader within ${transferTimeoutMs} ms`));
      }, transferTimeoutMs);
    });
    try {
      await Promise.race([node.transferLeadership(target), timeout]);
      logger.info({ to: target }, 'leadership transferred');
    } catch (error) {
      logger.warn({ to: target, err: error }, 'leadership transfer failed; stopping anyway');
    } finally {
      clearTimeout(timer);
    }
  }
  await node.stop();
  logger.info('stopped');
}

/** The voter (other than us) whose log matches ours furthest: it can take over soonest. */
function bestTransferTarget(node: RaftNode): NodeId | null {
  let best: NodeId | null = null;
  let bestMatch = -1;
  for (const id of Object.keys(node.status().config.voters)) {
    if (id === node.id) continue;
    const match = node.core.progressOf(id)?.match ?? -1;
    if (match > bestMatch) {
      best = id;
      bestMatch = match;
    }
  }
  return best;
}
