/** Stable error codes of the bloc endpoint (never renamed once released). */
export const BlocErrorCode = {
  /** The endpoint tracks as many sessions as it may (`maxSessions`); answered with 503. */
  TooManySessions: 'SKEIN_BLOC_TOO_MANY_SESSIONS',
} as const;
export type BlocErrorCode = (typeof BlocErrorCode)[keyof typeof BlocErrorCode];
