/**
 * skein/core: the primitives every layer is built from — time, randomness, errors, encoding,
 * checksums, logging and limits. Nothing here does I/O on its own.
 * @packageDocumentation
 */
export { type Clock, type TimerHandle, RealClock, VirtualClock } from './clock.ts';
export { Random } from './random.ts';
export { SkeinError, CoreErrorCode, hasCode, assert } from './errors.ts';
export { encode, decode } from './codec.ts';
export { crc32c } from './crc32c.ts';
export { createLogger, silentLogger, type Logger } from './log.ts';
export { DefaultLimits } from './limits.ts';
export { MinHeap } from './heap.ts';
