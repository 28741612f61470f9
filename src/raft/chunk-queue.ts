/**
 * A bounded single-producer, single-consumer queue exposed as an AsyncIterable, used to hand
 * snapshot chunks that arrive over the network to storage as they come. `push` refuses beyond
 * `capacity` chunks (the sender's window keeps it well below that). A chunk's `onTaken` runs when
 * the consumer takes it: the receiver acknowledges chunks then, so that the sender's window
 * bounds what waits here for the disk (flow control), not merely what is on the wire.
 */
export class ChunkQueue implements AsyncIterable<Uint8Array> {
  readonly #capacity: number;
  readonly #chunks: { data: Uint8Array; onTaken: (() => void) | undefined }[] = [];
  #ended = false;
  #failure: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Queue a chunk; false when the queue is full (the sender exceeded its window). */
  push(chunk: Uint8Array, onTaken?: () => void): boolean {
    if (this.#ended || this.#chunks.length >= this.#capacity) return false;
    this.#chunks.push({ data: chunk, onTaken });
    this.#notify();
    return true;
  }

  end(): void {
    this.#ended = true;
    this.#notify();
  }

  fail(error: Error): void {
    this.#failure = error;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      if (this.#failure !== null) throw this.#failure;
      const next = this.#chunks.shift();
      if (next !== undefined) {
        next.onTaken?.();
        yield next.data;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}
