import { SkeinError } from '../core/errors.ts';

/** The request never reached a member (nothing can have been applied): safe to retry anything. */
export class NotSentError extends SkeinError {}
