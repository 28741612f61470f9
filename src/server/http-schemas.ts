import { Type, type TSchema } from '@sinclair/typebox';
import { WATCH_HEARTBEAT_LIMITS_MS } from '../kv/types.ts';

/**
 * JSON schemas of the HTTP API (typebox). Requests are validated by fastify before a handler runs
 * (unknown fields, wrong types and out-of-range numbers get 400 with the offending path); responses
 * are serialized by fast-json-stringify from the same schemas, which is much faster than
 * JSON.stringify on the hot path. Limits that depend on configuration (key and value bytes) are
 * checked by skein/kv's validators in the handler.
 */

const Revision = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const LeaseId = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Key = Type.String({ maxLength: 65_536 });
const strict = { additionalProperties: false } as const;

const Selector = {
  key: Key,
  prefix: Type.Optional(Type.Boolean()),
  rangeEnd: Type.Optional(Key),
};

export const PutBody = Type.Object(
  { key: Key, value: Type.String(), lease: Type.Optional(LeaseId), prevKv: Type.Optional(Type.Boolean()) },
  strict,
);

const RangeFields = {
  ...Selector,
  limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
  revision: Type.Optional(Revision),
  keysOnly: Type.Optional(Type.Boolean()),
  countOnly: Type.Optional(Type.Boolean()),
};

export const RangeBody = Type.Object({ ...RangeFields, serializable: Type.Optional(Type.Boolean()) }, strict);
export const DeleteBody = Type.Object({ ...Selector, prevKv: Type.Optional(Type.Boolean()) }, strict);

const Compare = Type.Object(
  {
    key: Key,
    target: Type.Union([
      Type.Literal('value'),
      Type.Literal('version'),
      Type.Literal('createRevision'),
      Type.Literal('modRevision'),
      Type.Literal('lease'),
    ]),
    op: Type.Union([Type.Literal('='), Type.Literal('!='), Type.Literal('<'), Type.Literal('>')]),
    value: Type.Union([Type.String(), Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })]),
  },
  strict,
);

const TxnOp = Type.Union([
  Type.Object({ put: PutBody }, strict),
  Type.Object({ range: Type.Object(RangeFields, strict) }, strict),
  Type.Object({ deleteRange: DeleteBody }, strict),
]);

export const TxnBody = Type.Object(
  {
    compare: Type.Array(Compare, { maxItems: 10_000 }),
    success: Type.Array(TxnOp, { maxItems: 10_000 }),
    failure: Type.Array(TxnOp, { maxItems: 10_000 }),
  },
  strict,
);

export const CompactBody = Type.Object({ revision: Revision }, strict);
export const LeaseGrantBody = Type.Object(
  { ttlSeconds: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), id: Type.Optional(LeaseId) },
  strict,
);
export const LeaseIdBody = Type.Object({ id: LeaseId }, strict);
export const LeaseTtlBody = Type.Object({ id: LeaseId, keys: Type.Optional(Type.Boolean()) }, strict);

export const WatchBody = Type.Object(
  {
    ...Selector,
    startRevision: Type.Optional(Revision),
    prevKv: Type.Optional(Type.Boolean()),
    progressNotify: Type.Optional(Type.Boolean()),
    /** Send a heartbeat line when the stream has been quiet this long (see watch-route.ts). */
    heartbeatMs: Type.Optional(
      Type.Integer({ minimum: WATCH_HEARTBEAT_LIMITS_MS.min, maximum: WATCH_HEARTBEAT_LIMITS_MS.max }),
    ),
  },
  strict,
);

export const MemberAddBody = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }),
    peerAddress: Type.String({ minLength: 3, maxLength: 300 }),
    learner: Type.Optional(Type.Boolean()),
  },
  strict,
);

export const MemberParams = Type.Object({ name: Type.String({ maxLength: 64 }) }, strict);

// ---- responses (for fast serialization; they must list every field the handlers return) ----

const KeyValue = Type.Object({
  key: Type.String(),
  value: Type.String(),
  createRevision: Type.Integer(),
  modRevision: Type.Integer(),
  version: Type.Integer(),
  lease: Type.Integer(),
});

export const PutReply = Type.Object({ revision: Type.Integer(), prevKv: Type.Optional(KeyValue) });
export const RangeReply = Type.Object({
  kvs: Type.Array(KeyValue),
  count: Type.Integer(),
  more: Type.Boolean(),
  revision: Type.Integer(),
});
export const DeleteReply = Type.Object({
  revision: Type.Integer(),
  deleted: Type.Integer(),
  prevKvs: Type.Optional(Type.Array(KeyValue)),
});

/** Only the 200 answer is schema-serialized; errors go through the error handler as plain JSON. */
export function okReply(schema: TSchema): { response: { 200: TSchema } } {
  return { response: { 200: schema } };
}

const Name = Type.String({ minLength: 1, maxLength: 256 });

export const GroupJoinBody = Type.Object(
  {
    group: Name,
    member: Name,
    session: LeaseId,
    metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
    weight: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    strategy: Type.Optional(Type.Union([Type.Literal('sticky'), Type.Literal('join-order')])),
    settleMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    heartbeatIntervalMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
  },
  strict,
);

export const GroupMemberBody = Type.Object({ group: Name, member: Name }, strict);

export const GroupHeartbeatBody = Type.Object({ group: Name, member: Name, session: LeaseId }, strict);

export const GroupReadBody = Type.Object(
  { group: Name, serializable: Type.Optional(Type.Boolean()) },
  strict,
);

export const GroupListBody = Type.Object({ serializable: Type.Optional(Type.Boolean()) }, strict);
