import type { TSchema } from '@sinclair/typebox';
import {
  validateCompact,
  validateDeleteRange,
  validatePut,
  validateRange,
  validateTxn,
} from '../kv/index.ts';
import { KvPaths } from '../kv/rpc-protocol.ts';
import type { RangeRequest, RangeResponse } from '../kv/types.ts';
import type { ServerContext } from './context.ts';
import {
  CompactBody,
  DeleteBody,
  DeleteReply,
  PutBody,
  PutReply,
  RangeBody,
  RangeReply,
  TxnBody,
} from './http-schemas.ts';

/**
 * A request with a JSON body and a JSON answer, served the same way over HTTP (`POST path`) and
 * over the RPC channel: the same schemas, the same handler.
 */
export interface UnaryOp {
  readonly path: string;
  readonly body: TSchema;
  /** Schema of the 200 answer, for fast serialization; absent: plain JSON.stringify. */
  readonly reply?: TSchema;
  /** Serve a body that matches `body`; rejects with a SkeinError for a request it refuses. */
  readonly handle: (body: unknown) => Promise<unknown>;
}

/**
 * /v1/kv: put, range, delete, txn, compact. Writes go through the Raft log from any member
 * (followers forward to the leader); reads are linearizable (ReadIndex) unless `serializable`.
 */
export function kvOps(ctx: ServerContext): readonly UnaryOp[] {
  const { node, store, limits } = ctx;
  return [
    {
      path: KvPaths.put,
      body: PutBody,
      reply: PutReply,
      handle: async (body) => await node.enqueue('put', validatePut(body, limits)),
    },
    {
      path: KvPaths.range,
      body: RangeBody,
      reply: RangeReply,
      handle: async (body) => {
        const { serializable, ...rest } = body as RangeRequest & { serializable?: boolean };
        const range = validateRange(rest, limits);
        if (serializable === true) return store.range(range);
        return node.read<RangeResponse>(() => store.range(range));
      },
    },
    {
      path: KvPaths.delete,
      body: DeleteBody,
      reply: DeleteReply,
      handle: async (body) => await node.enqueue('delete-range', validateDeleteRange(body, limits)),
    },
    {
      path: KvPaths.txn,
      body: TxnBody,
      handle: async (body) => await node.enqueue('txn', validateTxn(body, limits)),
    },
    {
      path: KvPaths.compact,
      body: CompactBody,
      handle: async (body) => await node.enqueue('compact', validateCompact(body)),
    },
  ];
}
