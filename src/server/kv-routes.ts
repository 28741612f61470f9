import type { FastifyInstance } from 'fastify';
import {
  validateCompact,
  validateDeleteRange,
  validatePut,
  validateRange,
  validateTxn,
} from '../kv/index.ts';
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
  okReply,
} from './http-schemas.ts';

/**
 * /v1/kv: put, range, delete, txn, compact. Writes go through the Raft log from any member
 * (followers forward to the leader); reads are linearizable (ReadIndex) unless `serializable`.
 */
export function registerKvRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { node, store, limits } = ctx;

  app.post('/v1/kv/put', { schema: { body: PutBody, ...okReply(PutReply) } }, async (request) => {
    const put = validatePut(request.body, limits);
    return await node.enqueue('put', put);
  });

  app.post('/v1/kv/range', { schema: { body: RangeBody, ...okReply(RangeReply) } }, async (request) => {
    const { serializable, ...rest } = request.body as RangeRequest & { serializable?: boolean };
    const range = validateRange(rest, limits);
    if (serializable === true) return store.range(range);
    return node.read<RangeResponse>(() => store.range(range));
  });

  app.post('/v1/kv/delete', { schema: { body: DeleteBody, ...okReply(DeleteReply) } }, async (request) => {
    const del = validateDeleteRange(request.body, limits);
    return await node.enqueue('delete-range', del);
  });

  app.post('/v1/kv/txn', { schema: { body: TxnBody } }, async (request) => {
    const txn = validateTxn(request.body, limits);
    return await node.enqueue('txn', txn);
  });

  app.post('/v1/kv/compact', { schema: { body: CompactBody } }, async (request) => {
    const compact = validateCompact(request.body);
    return await node.enqueue('compact', compact);
  });
}
