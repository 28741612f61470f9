import { C1, Packr } from 'msgpackr';
import { CoreErrorCode, SkeinError } from './errors.ts';

/**
 * The one msgpack configuration used on the wire and on disk. Records (msgpackr's structure
 * extension) are off so that any msgpack implementation in another language can read our frames;
 * `Uint8Array`s travel as msgpack `bin`; Maps decode as Maps.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decode one msgpack value. Malformed input raises SKEIN_DECODE_FAILED, never anything else. */
export function decode(bytes: Uint8Array): unknown {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (cause) {
    throw new SkeinError(
      CoreErrorCode.DecodeFailed,
      `could not decode a msgpack value of ${bytes.length} bytes`,
      {
        cause,
      },
    );
  }
  // 0xC1 is reserved ("never used") in msgpack; msgpackr hands back a sentinel for it. Nested
  // occurrences land where a string or number is expected and fail each boundary's shape check.
  if (value === C1) {
    throw new SkeinError(CoreErrorCode.DecodeFailed, 'the reserved msgpack byte 0xC1 is not a value');
  }
  return value;
}
