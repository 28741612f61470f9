import type { Socket } from 'node:net';
import type { Random } from '../../src/core/random.ts';

/**
 * What a directed link does to the messages on its connections. The proxy works on whole
 * transport frames (u32 length + payload), so a lost message never leaves half a frame behind
 * and the stream stays valid, exactly like a network that loses datagrams under a message
 * transport.
 *
 * - `pass`: forward at once.
 * - `delay`: hold each frame `delayMs` plus a uniform `[0, jitterMs)` extra, never reordering
 *   (a frame leaves no earlier than the one before it, as on a TCP stream).
 * - `lossy`: lose each frame with probability `lossProbability`.
 * - `blackhole`: lose every frame while the connection stays open: a silent partition. The dialer
 *   keeps writing and hears nothing, as when a cable is cut and TCP has not noticed yet.
 * - `refuse`: close the link's connections and hang up on new ones: a partition that the dialer
 *   sees as connection resets.
 */
export type LinkFault =
  | { readonly kind: 'pass' }
  | { readonly kind: 'delay'; readonly delayMs: number; readonly jitterMs: number }
  | { readonly kind: 'lossy'; readonly lossProbability: number }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'refuse' };

export const PASS: LinkFault = { kind: 'pass' };

/** Counters shared by the pipes of a proxy. */
export interface PipeCounters {
  framesForwarded: number;
  framesLost: number;
  bytesForwarded: number;
}

/** Options of {@link LinkPipe}. */
export interface LinkPipeOptions {
  /** The link's current fault, read at the start of every frame (so a change applies at once). */
  readonly fault: () => LinkFault;
  readonly random: Random;
  /** Bytes held (delayed, or waiting for the sink to drain) before the source is paused. */
  readonly maxQueuedBytes: number;
  readonly counters: PipeCounters;
  /** The link refuses traffic: the owner closes the connection. */
  readonly onRefuse: () => void;
}

interface Held {
  readonly releaseAtMs: number;
  readonly parts: Buffer[];
}

const HEADER_BYTES = 4;

/**
 * One direction of a proxied connection: reads frames from the source, applies the link's fault
 * per frame, writes the sink. Frames are streamed, never buffered whole, so a frame of any size
 * costs no memory; what is held (delayed, or waiting for the sink) is bounded by
 * `maxQueuedBytes`, beyond which the source is paused and the sender backs up into its own
 * bounded queue.
 */
export class LinkPipe {
  readonly #source: Socket;
  readonly #sink: Socket;
  readonly #options: LinkPipeOptions;
  readonly #held: Held[] = [];
  #heldBytes = 0;
  #lastReleaseMs = 0;
  #sinkBlocked = false;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  // Frame state: header bytes gathered so far, then the payload bytes still to come and whether
  // the current frame is forwarded (with which delay) or lost.
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #headerFill = 0;
  #payloadLeft = 0;
  #frameDelayMs: number | null = null;

  constructor(source: Socket, sink: Socket, options: LinkPipeOptions) {
    this.#source = source;
    this.#sink = sink;
    this.#options = options;
    sink.on('drain', () => {
      this.#sinkBlocked = false;
      this.#flush();
    });
  }

  /** Take bytes read from the source. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.#closed) {
      if (this.#payloadLeft > 0) {
        const n = Math.min(this.#payloadLeft, chunk.length - at);
        this.#emit(chunk.subarray(at, at + n));
        this.#payloadLeft -= n;
        at += n;
        continue;
      }
      const n = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - at);
      chunk.copy(this.#header, this.#headerFill, at, at + n);
      this.#headerFill += n;
      at += n;
      if (this.#headerFill < HEADER_BYTES) break;
      this.#headerFill = 0;
      this.#payloadLeft = this.#header.readUInt32BE(0);
      this.#startFrame();
      this.#emit(Buffer.from(this.#header));
    }
    if (!this.#closed) this.#flush();
  }

  /** Stop forwarding and drop what is held. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#held.length = 0;
    this.#heldBytes = 0;
  }

  /** Decide the fate of the frame whose header just arrived. */
  #startFrame(): void {
    const fault = this.#options.fault();
    const random = this.#options.random;
    switch (fault.kind) {
      case 'refuse':
        this.#frameDelayMs = null;
        this.#options.onRefuse();
        return;
      case 'blackhole':
        this.#frameDelayMs = null;
        break;
      case 'lossy':
        this.#frameDelayMs = random.chance(fault.lossProbability) ? null : 0;
        break;
      case 'delay':
        this.#frameDelayMs = fault.delayMs + random.next() * fault.jitterMs;
        break;
      case 'pass':
        this.#frameDelayMs = 0;
    }
    if (this.#frameDelayMs === null) this.#options.counters.framesLost++;
    else this.#options.counters.framesForwarded++;
  }

  /** Forward (or lose) part of the current frame. */
  #emit(part: Buffer): void {
    if (this.#frameDelayMs === null) return;
    const releaseAtMs = Math.max(performance.now() + this.#frameDelayMs, this.#lastReleaseMs);
    this.#lastReleaseMs = releaseAtMs;
    const tail = this.#held.at(-1);
    if (tail?.releaseAtMs === releaseAtMs) tail.parts.push(part);
    else this.#held.push({ releaseAtMs, parts: [part] });
    this.#heldBytes += part.length;
    if (this.#heldBytes >= this.#options.maxQueuedBytes) this.#source.pause();
  }

  #flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const nowMs = performance.now();
    while (this.#held.length > 0 && !this.#sinkBlocked) {
      const head = this.#held[0]!;
      if (head.releaseAtMs > nowMs) {
        this.#timer = setTimeout(() => {
          this.#flush();
        }, head.releaseAtMs - nowMs);
        break;
      }
      this.#held.shift();
      const bytes = head.parts.length === 1 ? head.parts[0]! : Buffer.concat(head.parts);
      this.#heldBytes -= bytes.length;
      this.#options.counters.bytesForwarded += bytes.length;
      if (!this.#sink.write(bytes)) this.#sinkBlocked = true;
    }
    if (this.#heldBytes < this.#options.maxQueuedBytes / 2 && this.#source.isPaused()) {
      this.#source.resume();
    }
  }
}
