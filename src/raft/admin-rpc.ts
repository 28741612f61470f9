import type { Clock } from '../core/clock.ts';
import { SkeinError } from '../core/errors.ts';
import type { NodeId } from './types.ts';
import { RaftErrorCode, raftError } from './errors.ts';

/** Membership and leadership operations, which must run on the leader. */
export type AdminOp =
  | { readonly op: 'attach'; readonly nodes: Readonly<Record<NodeId, string>> }
  | { readonly op: 'add-learners'; readonly nodes: Readonly<Record<NodeId, string>> }
  | { readonly op: 'promote'; readonly ids: readonly NodeId[] }
  | { readonly op: 'detach'; readonly ids: readonly NodeId[] }
  | { readonly op: 'transfer'; readonly target: NodeId };

interface AdminRequest {
  readonly type: 'admin-request';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly id: number;
  readonly op: AdminOp;
}

interface AdminResponse {
  readonly type: 'admin-response';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly id: number;
  readonly error: { readonly code: string; readonly message: string } | null;
}

const maxPendingAdmin = 64;

/**
 * Forwards admin operations from any member to the leader and carries the outcome back, so that
 * `attachNodes` and friends can be called on any node (as in consensual). Bounded: at most 64
 * operations wait for answers at once.
 */
export class AdminRpc {
  readonly #localId: NodeId;
  readonly #clock: Clock;
  readonly #send: (to: NodeId, message: AdminRequest | AdminResponse) => void;
  readonly #execute: (op: AdminOp) => Promise<void>;
  readonly #timeoutMs: number;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();

  constructor(options: {
    localId: NodeId;
    clock: Clock;
    send: (to: NodeId, message: AdminRequest | AdminResponse) => void;
    execute: (op: AdminOp) => Promise<void>;
    timeoutMs: number;
  }) {
    this.#localId = options.localId;
    this.#clock = options.clock;
    this.#send = options.send;
    this.#execute = options.execute;
    this.#timeoutMs = options.timeoutMs;
  }

  handles(type: string): boolean {
    return type === 'admin-request' || type === 'admin-response';
  }

  /** Run `op` on `leader` (locally when that is us). */
  run(leader: NodeId | null, op: AdminOp): Promise<void> {
    if (leader === null) return Promise.reject(raftError(RaftErrorCode.NoLeader, `cannot run ${op.op}`));
    if (leader === this.#localId) return this.#execute(op);
    if (this.#pending.size >= maxPendingAdmin) {
      return Promise.reject(
        raftError(RaftErrorCode.Overloaded, `${this.#pending.size} admin operations pending`),
      );
    }
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#pending.delete(id);
        reject(raftError(RaftErrorCode.Timeout, `${op.op} forwarded to ${leader} got no answer`));
      }, this.#timeoutMs);
      this.#pending.set(id, {
        resolve: () => {
          this.#clock.clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          this.#clock.clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      });
      this.#send(leader, { type: 'admin-request', from: this.#localId, to: leader, id, op });
    });
  }

  receive(from: NodeId, message: unknown): void {
    const m = message as {
      type?: unknown;
      id?: unknown;
      op?: AdminOp;
      error?: AdminResponse['error'];
    };
    if (typeof m.id !== 'number') return;
    if (m.type === 'admin-request' && typeof m.op === 'object' && typeof m.op.op === 'string') {
      const id = m.id;
      const reply = (error: AdminResponse['error']): void => {
        this.#send(from, { type: 'admin-response', from: this.#localId, to: from, id, error });
      };
      this.#execute(m.op).then(
        () => {
          reply(null);
        },
        (error: unknown) => {
          reply(
            error instanceof SkeinError
              ? { code: error.code, message: error.message }
              : { code: 'SKEIN_INTERNAL', message: String(error) },
          );
        },
      );
      return;
    }
    if (m.type === 'admin-response') {
      const pending = this.#pending.get(m.id);
      if (pending === undefined) return;
      this.#pending.delete(m.id);
      if (m.error === null || m.error === undefined) pending.resolve();
      else pending.reject(new SkeinError(m.error.code, m.error.message));
    }
  }

  /** Reject everything still waiting. */
  close(): void {
    for (const p of this.#pending.values()) p.reject(raftError(RaftErrorCode.Stopped, 'admin operation'));
    this.#pending.clear();
  }
}
