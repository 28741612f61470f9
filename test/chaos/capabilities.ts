import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SKEIN_BIN = fileURLToPath(new URL('../../bin/skein.mjs', import.meta.url));

/**
 * Whether `skein raft-node` takes `--data-dir` (durable storage), so that killed nodes can come
 * back under their own id. Asked of the real command, so the harness follows the CLI as it grows.
 */
export function durableRestartsAvailable(): Promise<boolean> {
  const help = spawnSync(process.execPath, [SKEIN_BIN, 'raft-node', '--help'], { encoding: 'utf8' });
  return Promise.resolve(help.stdout.includes('--data-dir'));
}
