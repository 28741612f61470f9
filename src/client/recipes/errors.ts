import { SkeinError } from '../../core/errors.ts';

/** Codes raised by the recipes (lock, election, service registry). */
export const RecipeErrorCode = {
  /** The lock's key or lease is gone: another holder may have it now. */
  LockLost: 'SKEIN_LOCK_LOST',
  /** Leadership (or the campaign) ended because the key or lease is gone. */
  LeadershipLost: 'SKEIN_LEADERSHIP_LOST',
  /** proclaim() or resign() by a campaigner that is not the leader. */
  NotElected: 'SKEIN_NOT_ELECTED',
  /** The caller's AbortSignal fired while waiting. */
  Aborted: 'SKEIN_ABORTED',
} as const;
export type RecipeErrorCode = (typeof RecipeErrorCode)[keyof typeof RecipeErrorCode];

export function recipeError(
  code: RecipeErrorCode,
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): SkeinError {
  return new SkeinError(code, message, options);
}

export type LostListener = (reason: SkeinError) => void;

/** A one-shot 'lost' event: fires at most once; listeners added afterwards are called at once. */
export class LostEvent {
  readonly #listeners = new Set<LostListener>();
  #reason: SkeinError | null = null;

  get fired(): boolean {
    return this.#reason !== null;
  }

  get reason(): SkeinError | null {
    return this.#reason;
  }

  on(listener: LostListener): void {
    if (this.#reason !== null) listener(this.#reason);
    else this.#listeners.add(listener);
  }

  off(listener: LostListener): void {
    this.#listeners.delete(listener);
  }

  /** Fire (once). Returns false when it had fired already. */
  fire(reason: SkeinError): boolean {
    if (this.#reason !== null) return false;
    this.#reason = reason;
    for (const listener of this.#listeners) listener(reason);
    this.#listeners.clear();
    return true;
  }
}
