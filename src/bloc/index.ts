/**
 * skein/bloc: bloc's HTTP protocol (`GET /index` with `Bloc-Session-ID`, `DELETE /session`) served
 * on top of a replicated skein group, so that existing bloc clients work unchanged. See docs/bloc.md.
 * @packageDocumentation
 */
export { startBlocEndpoint, BlocDefaults, type BlocEndpoint, type BlocEndpointOptions } from './endpoint.ts';
export { BlocSessions, type BlocCoordinator, type BlocSessionsOptions } from './sessions.ts';
export { BlocErrorCode } from './errors.ts';
export {
  SESSION_HEADER,
  MAX_SESSION_ID_LENGTH,
  BlocRoute,
  ALLOWED_METHODS,
  indexBody,
  routeOf,
  sessionIdOf,
} from './protocol.ts';
