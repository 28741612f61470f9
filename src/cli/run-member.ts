import { SkeinError } from '../core/errors.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { serveIpcControl } from './ipc-control.ts';
import { startMember, type Member } from './member.ts';
import type { MemberConfig } from './raft-flags.ts';

/** Exit status for invalid flags or configuration (commander's own usage errors exit 1). */
export const EXIT_CONFIG = 2;
/** Exit status when the member could not start (port in use, ...) or failed while running. */
export const EXIT_START_FAILED = 1;

/** Validate; on a SkeinError print `code: message` to stderr, set the exit status and return null. */
export function configOrExit(parse: () => MemberConfig): MemberConfig | null {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof SkeinError)) throw error;
    process.stderr.write(`skein: ${error.code}: ${error.message}\n`);
    process.exitCode = EXIT_CONFIG;
    return null;
  }
}

/**
 * Start a member, serve IPC control when there is a parent, and leave gracefully on SIGTERM or
 * SIGINT (a leader hands over leadership first). Resolves once the member is running.
 */
export async function runMember(
  config: MemberConfig,
  onStarted?: (member: Member, logger: Logger) => void,
): Promise<void> {
  const logger = createLogger({ name: 'skein', level: config.logLevel });
  let member: Member;
  try {
    member = await startMember(config, logger);
  } catch (error) {
    const code = error instanceof SkeinError ? error.code : 'SKEIN_START_FAILED';
    logger.fatal({ code, err: error }, 'could not start the member');
    process.exitCode = EXIT_START_FAILED;
    return;
  }
  logger.info({ id: config.id, address: member.address, peers: config.peers }, 'raft member started');
  const exit = (code: number): void => {
    process.exit(code);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void member.shutdown(signal).then(() => {
        exit(0);
      });
    });
  }
  // A node that failed (its storage, say) has stopped itself: the process must not linger as if healthy.
  member.node.once('error', () => {
    void member.shutdown('the raft node failed').then(() => {
      exit(EXIT_START_FAILED);
    });
  });
  if (typeof process.send === 'function') serveIpcControl(member, logger, exit);
  onStarted?.(member, logger);
}
