import { CoreErrorCode, SkeinError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { NodeId } from '../raft/types.ts';
import { runLoad } from './load-generator.ts';
import type { Member } from './member.ts';

/**
 * The control surface a parent process (tests, the Raft benchmark) uses over the IPC channel of
 * `skein raft-node`. Every request carries a numeric `id`; the reply echoes it with either
 * `{ ok: true, value }` or `{ ok: false, error: { code, message } }`.
 *
 * - `{ cmd: 'enqueue', action, params }` → the processor's result once applied here
 * - `{ cmd: 'read', key? }` → after a ReadIndex barrier: the key's value, or the map summary
 * - `{ cmd: 'status' }` → Raft status plus `kv` summary (keys, applied, digest), transport counters and `cpuUs`
 * - `{ cmd: 'transfer', target }`, `{ cmd: 'attach', nodes }`, `{ cmd: 'detach', ids }`
 * - `{ cmd: 'load', durationMs, warmupMs, outstanding, payloadBytes }` → a closed-loop load run
 *   generated inside this process (so IPC is not what gets measured); see {@link runLoad}
 * - `{ cmd: 'stop' }` → replies, then leaves gracefully and exits
 *
 * Unsolicited events: `{ event: 'listening', id, address }` once started and
 * `{ event: 'leader', leaderId, term }` on every leader change.
 */
export type ControlRequest =
  | { id: number; cmd: 'enqueue'; action: string; params: unknown }
  | { id: number; cmd: 'read'; key?: string }
  | { id: number; cmd: 'status' }
  | { id: number; cmd: 'transfer'; target: NodeId }
  | { id: number; cmd: 'attach'; nodes: Record<NodeId, string> }
  | { id: number; cmd: 'detach'; ids: NodeId[] }
  | {
      id: number;
      cmd: 'load';
      durationMs: number;
      warmupMs: number;
      outstanding: number;
      payloadBytes: number;
    }
  | { id: number; cmd: 'stop' };

export type ControlReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { code: string; message: string } };

/** Upper bounds on a `load` request, so a typo cannot pin a member for an hour. */
const MAX_LOAD_MS = 600_000;
const MAX_OUTSTANDING = 65_536;
const MAX_PAYLOAD_BYTES = 1 << 20;

/** Serve control requests from the parent until the channel closes (then leave, so no orphan stays). */
export function serveIpcControl(member: Member, logger: Logger, exit: (code: number) => void): void {
  const send = (message: unknown): void => {
    if (process.connected) process.send?.(message);
  };
  send({ event: 'listening', id: member.node.id, address: member.address });
  member.node.on('leader', (leaderId, term) => {
    send({ event: 'leader', leaderId, term });
  });
  process.on('message', (raw) => {
    const request = raw as ControlRequest;
    if (typeof request !== 'object' || typeof request.id !== 'number') {
      logger.warn({ code: CoreErrorCode.InvalidArgument }, 'ignored a malformed control message');
      return;
    }
    execute(member, request).then(
      (value) => {
        send({ id: request.id, ok: true, value } satisfies ControlReply);
        if (request.cmd === 'stop') {
          void member.shutdown('stop requested over IPC').then(() => {
            exit(0);
          });
        }
      },
      (error: unknown) => {
        send({ id: request.id, ok: false, error: describe(error) } satisfies ControlReply);
      },
    );
  });
  process.on('disconnect', () => {
    void member.shutdown('parent process went away').then(() => {
      exit(0);
    });
  });
}

async function execute(member: Member, request: ControlRequest): Promise<unknown> {
  const { node, kv } = member;
  switch (request.cmd) {
    case 'enqueue':
      return node.enqueue(request.action, request.params);
    case 'read':
      return node.read(() => (request.key === undefined ? kv.summary() : kv.get(request.key)));
    case 'status': {
      const { msgsSent, msgsReceived, socketWrites, bytesReceived, msgsDropped } = member.transport.stats();
      return {
        ...node.status(),
        kv: kv.summary(),
        transport: { msgsSent, msgsReceived, socketWrites, bytesReceived, msgsDropped },
        cpuUs: cpuUs(),
      };
    }
    case 'transfer':
      return node.transferLeadership(request.target);
    case 'attach':
      return node.attachNodes(request.nodes);
    case 'detach':
      return node.detachNodes(request.ids);
    case 'load':
      return load(member, request);
    case 'stop':
      return null;
    default:
      throw new SkeinError(
        CoreErrorCode.InvalidArgument,
        `unknown control command "${String((request as { cmd: unknown }).cmd)}"`,
      );
  }
}

function load(member: Member, r: Extract<ControlRequest, { cmd: 'load' }>): Promise<unknown> {
  const ok = (v: unknown, max: number): boolean =>
    Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;
  if (
    !ok(r.durationMs, MAX_LOAD_MS) ||
    !ok(r.warmupMs, MAX_LOAD_MS) ||
    !ok(r.payloadBytes, MAX_PAYLOAD_BYTES)
  ) {
    throw new SkeinError(
      CoreErrorCode.InvalidArgument,
      'load: durationMs, warmupMs, payloadBytes out of range',
    );
  }
  if (!ok(r.outstanding, MAX_OUTSTANDING) || r.outstanding === 0) {
    throw new SkeinError(CoreErrorCode.InvalidArgument, `load: outstanding must be in 1..${MAX_OUTSTANDING}`);
  }
  const payload = new Uint8Array(r.payloadBytes).fill(0x61);
  const keys = Array.from({ length: 4096 }, (_, i) => `bench-${i}`);
  return runLoad((seq) => member.node.enqueue('set', { key: keys[seq & 4095], value: payload }), r);
}

/** CPU time this process has used (user + system, all threads), in microseconds. */
function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function describe(error: unknown): { code: string; message: string } {
  if (error instanceof SkeinError) return { code: error.code, message: error.message };
  return { code: 'SKEIN_INTERNAL', message: error instanceof Error ? error.message : String(error) };
}
