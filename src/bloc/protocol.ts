/**
 * bloc's HTTP protocol as data: routes, the session header, and the exact response bodies. Pure
 * functions, no I/O, so the byte-level compatibility is tested without a server.
 */

/** The header a bloc client identifies itself with (lower-case, as Node exposes headers). */
export const SESSION_HEADER = 'bloc-session-id';

/** Longest session id accepted (bloc clients send a 36-char UUID; skein member ids stop at 256). */
export const MAX_SESSION_ID_LENGTH = 256;

/** The two resources bloc serves. */
export const BlocRoute = {
  Index: '/index',
  Session: '/session',
} as const;
export type BlocRoute = (typeof BlocRoute)[keyof typeof BlocRoute];

/** The methods each route answers; anything else is a 405 with this list in `Allow`. */
export const ALLOWED_METHODS: Readonly<Record<BlocRoute, readonly string[]>> = {
  [BlocRoute.Index]: ['GET', 'HEAD'],
  [BlocRoute.Session]: ['DELETE'],
};

/**
 * The route of a request target, or null for any other path. Matching is exact (bloc's werkzeug
 * routing: `/index/` is a 404); the query string is ignored, as werkzeug ignores it.
 */
export function routeOf(target: string): BlocRoute | null {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  return path === BlocRoute.Index || path === BlocRoute.Session ? path : null;
}

/** What a request's session header yields: the id, or why there is none. */
export type SessionIdResult =
  { readonly ok: true; readonly id: string } | { readonly ok: false; readonly message: string };

/**
 * The session id from the header's values (Node's `headersDistinct`). bloc used the first value
 * when a client sent the header twice; so does this. bloc let a request without the header join
 * as a member called `None`; here it is refused (see docs/bloc.md).
 */
export function sessionIdOf(values: readonly string[] | undefined): SessionIdResult {
  const id = values?.[0]?.trim() ?? '';
  if (id === '') {
    return {
      ok: false,
      message:
        'send a Bloc-Session-ID header naming this client (bloc clients send a UUID); requests without one are refused',
    };
  }
  if (id.length > MAX_SESSION_ID_LENGTH) {
    return {
      ok: false,
      message: `the Bloc-Session-ID header is ${id.length} chars; use at most ${MAX_SESSION_ID_LENGTH} (a UUID is 36)`,
    };
  }
  return { ok: true, id };
}

/** A member's place as the coordinator reports it (a subset of skein's MemberStatus). */
export interface Place {
  readonly index: number | null;
  readonly total: number | null;
}

/**
 * The body of a GET /index answer, byte for byte as bloc's Python `json.dumps` writes it
 * (separators `", "` and `": "`, keys in this order).
 */
export function indexBody(place: Place): string {
  if (place.index === null || place.total === null) return '{"status": "SETTLING"}';
  return `{"status": "SETTLED", "index": ${place.index}, "total": ${place.total}}`;
}

/** The body of a successful DELETE /session (bloc's). */
export const SESSION_DELETED_BODY = '{}';

/** An error body in skein's usual shape: `{"error":{"code","message"}}`. */
export function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}
