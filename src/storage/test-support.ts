import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Entry } from '../raft/types.ts';
import type { RecoveredState } from './types.ts';

/**
 * A comparable form of a recovered state: byte arrays (Buffer or Uint8Array, which the codec
 * does not tell apart) become hex strings, so `deepStrictEqual` compares content only.
 */
export function normalizeState(state: RecoveredState): unknown {
  return {
    hardState: state.hardState,
    entries: state.entries.map(normalizeEntry),
    snapshot: state.snapshot ?? null,
  };
}

function normalizeEntry(e: Entry): unknown {
  return { ...e, data: e.data instanceof Uint8Array ? `hex:${Buffer.from(e.data).toString('hex')}` : e.data };
}

/** A logger that keeps its records (level ≥ warn by default) for assertions. */
export function capturingLogger(level = 'warn'): { logger: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as { level: number; msg: string });
      }
      callback();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
