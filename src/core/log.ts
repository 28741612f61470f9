import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The structured logger every daemon uses. Level comes from the argument, else `SKEIN_LOG_LEVEL`,
 * else `info`. Libraries take a logger as an option and default to {@link silentLogger} so that
 * embedding skein never prints unless asked to.
 */
export function createLogger(options: { name: string; level?: string }): Logger {
  return pino({ name: options.name, level: options.level ?? process.env['SKEIN_LOG_LEVEL'] ?? 'info' });
}

export const silentLogger: Logger = pino({ level: 'silent' });
