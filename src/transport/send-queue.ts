import { FRAME_HEADER_BYTES } from './frame-decoder.ts';

/**
 * Encoded payloads waiting to be written to one peer, with a byte bound. `take` packs as many
 * frames as fit in one write buffer (header + payload each), which is the write-coalescing step:
 * one `socket.write` per batch instead of one per message.
 */
export class SendQueue {
  #payloads: Buffer[] = [];
  #head = 0;
  #bytes = 0;

  /** Wire bytes queued (payloads plus their length prefixes). */
  get bytes(): number {
    return this.#bytes;
  }

  get length(): number {
    return this.#payloads.length - this.#head;
  }

  push(payload: Buffer): void {
    this.#payloads.push(payload);
    this.#bytes += payload.length + FRAME_HEADER_BYTES;
  }

  /**
   * Remove frames from the front and return them as one buffer of at most `maxBytes` wire bytes
   * (or exactly one frame, if the first frame alone is larger). Undefined when empty.
   */
  take(maxBytes: number): Buffer | undefined {
    if (this.length === 0) return undefined;
    let end = this.#head;
    let total = 0;
    while (end < this.#payloads.length) {
      const size = this.#payloads[end]!.length + FRAME_HEADER_BYTES;
      if (total > 0 && total + size > maxBytes) break;
      total += size;
      end++;
    }
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = this.#head; i < end; i++) {
      const payload = this.#payloads[i]!;
      out.writeUInt32BE(payload.length, at);
      payload.copy(out, at + FRAME_HEADER_BYTES);
      at += payload.length + FRAME_HEADER_BYTES;
    }
    this.#head = end;
    this.#bytes -= total;
    this.#compact();
    return out;
  }

  clear(): void {
    this.#payloads = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  /** Drop consumed slots once they dominate, so the array does not grow without bound. */
  #compact(): void {
    if (this.#head === this.#payloads.length) {
      this.#payloads = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#payloads.length) {
      this.#payloads = this.#payloads.slice(this.#head);
      this.#head = 0;
    }
  }
}
