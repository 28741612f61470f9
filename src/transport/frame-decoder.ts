import { SkeinError } from '../core/errors.ts';
import { TransportErrorCode } from './errors.ts';

/** Bytes of the big-endian u32 length prefix in front of every frame. */
export const FRAME_HEADER_BYTES = 4;

/**
 * Splits a byte stream into frames of `[u32 big-endian length][payload]`.
 *
 * The length prefix is checked the moment its four bytes arrive, before any payload is buffered,
 * so a peer that announces a huge frame costs us nothing. A frame that spans many socket chunks is
 * copied once, when its last byte arrives (not re-concatenated per chunk, which is quadratic).
 * Memory held is at most one partial frame (≤ `maxFrameBytes`) plus the chunk being parsed.
 */
export class FrameDecoder {
  /** Largest payload accepted; may be raised after the handshake. */
  maxFrameBytes: number;
  readonly #chunks: Buffer[] = [];
  /** Read position inside `#chunks[0]`. */
  #offset = 0;
  /** Unread bytes across all chunks. */
  #bytes = 0;
  /** Length of the frame being assembled, or -1 while waiting for a length prefix. */
  #frameLength = -1;
  #stopped = false;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Stop delivering frames (the connection is closing); later input is ignored. */
  stop(): void {
    this.#stopped = true;
    this.#chunks.length = 0;
    this.#bytes = 0;
  }

  /**
   * Add `chunk` and call `onFrame` for every complete frame, in order. Throws a SkeinError
   * (SKEIN_FRAME_TOO_LARGE or SKEIN_BAD_FRAME) on a length prefix that can never be valid; the
   * caller must then close the connection.
   */
  feed(chunk: Buffer, onFrame: (payload: Buffer) => void): void {
    if (this.#stopped || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (!this.#stopped) {
      if (this.#frameLength < 0) {
        if (this.#bytes < FRAME_HEADER_BYTES) return;
        this.#frameLength = this.#checkLength(this.#readHeader());
      }
      if (this.#bytes < this.#frameLength) return;
      const payload = this.#take(this.#frameLength);
      this.#frameLength = -1;
      onFrame(payload);
    }
  }

  #checkLength(length: number): number {
    if (length === 0) {
      throw new SkeinError(TransportErrorCode.BadFrame, 'received a frame with length 0');
    }
    if (length > this.maxFrameBytes) {
      throw new SkeinError(
        TransportErrorCode.FrameTooLarge,
        `received a frame of ${length} bytes, over the limit of ${this.maxFrameBytes}; ` +
          'raise maxFrameBytes on every node if such messages are intended',
        { details: { frameBytes: length, maxFrameBytes: this.maxFrameBytes } },
      );
    }
    return length;
  }

  /** Consume the 4-byte length prefix; reads it in place unless it straddles two chunks. */
  #readHeader(): number {
    const first = this.#chunks[0]!;
    if (first.length - this.#offset < FRAME_HEADER_BYTES)
      return this.#take(FRAME_HEADER_BYTES).readUInt32BE(0);
    const length = first.readUInt32BE(this.#offset);
    this.#advance(FRAME_HEADER_BYTES);
    return length;
  }

  /** Remove and return the next `n` unread bytes (n ≤ #bytes): a view when they sit in one chunk. */
  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length - this.#offset >= n) {
      const out = first.subarray(this.#offset, this.#offset + n);
      this.#advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const count = Math.min(n - filled, chunk.length - this.#offset);
      chunk.copy(out, filled, this.#offset, this.#offset + count);
      filled += count;
      this.#advance(count);
    }
    return out;
  }

  #advance(n: number): void {
    this.#bytes -= n;
    this.#offset += n;
    if (this.#offset === this.#chunks[0]!.length) {
      this.#chunks.shift();
      this.#offset = 0;
    }
  }
}
