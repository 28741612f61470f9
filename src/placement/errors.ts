/** Error codes raised by skein/placement. Codes are stable; messages say what to do. */
export const PlacementErrorCode = {
  /** A lookup on a placement with no nodes. */
  Empty: 'SKEIN_PLACEMENT_EMPTY',
  /** `add` of a node id that is already a member. */
  DuplicateNode: 'SKEIN_PLACEMENT_DUPLICATE_NODE',
  /** `remove` of a node id that is not a member. */
  UnknownNode: 'SKEIN_PLACEMENT_UNKNOWN_NODE',
  /** An operation the chosen strategy cannot do (e.g. removing a middle bucket from jump hash). */
  Unsupported: 'SKEIN_PLACEMENT_UNSUPPORTED',
} as const;
export type PlacementErrorCode = (typeof PlacementErrorCode)[keyof typeof PlacementErrorCode];
