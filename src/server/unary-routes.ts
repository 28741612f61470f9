import type { FastifyInstance } from 'fastify';
import type { UnaryOp } from './kv-ops.ts';
import { okReply } from './http-schemas.ts';

/** Serve each op at `POST <path>` (fastify validates the body and serializes the answer). */
export function registerUnaryRoutes(app: FastifyInstance, ops: readonly UnaryOp[]): void {
  for (const op of ops) {
    app.post(
      op.path,
      { schema: { body: op.body, ...(op.reply !== undefined ? okReply(op.reply) : {}) } },
      (request) => op.handle(request.body),
    );
  }
}
