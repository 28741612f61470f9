import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import type { RaftStorage, SnapshotMeta, SnapshotReader } from '../storage/types.ts';
import { ChunkQueue } from './chunk-queue.ts';
import type { NodeId, SnapshotChunk } from './types.ts';

/** The receiver's acknowledgement: the next byte offset it expects (resume point). */
export interface SnapshotResponse {
  readonly type: 'snapshot-response';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly index: number;
  /** The `seq` of the chunk this answers. */
  readonly seq: number;
  /** Whether that chunk was taken (false: out of order; resume from `nextOffset`). */
  readonly accepted: boolean;
  readonly nextOffset: number;
  /** Set once the whole snapshot is durable and installed. */
  readonly complete: boolean;
}

/** Progress of one transfer, for status() and logs. */
export interface SnapshotTransferStatus {
  readonly peer: NodeId;
  readonly direction: 'sending' | 'receiving';
  readonly index: number;
  readonly bytes: number;
}

export interface SnapshotTransferOptions {
  readonly localId: NodeId;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly storage: RaftStorage;
  /** Stamp term and cluster id (the core's current ones) on an outgoing chunk. */
  readonly envelope: () => { term: number; clusterId: string };
  readonly send: (to: NodeId, message: SnapshotChunk | SnapshotResponse) => void;
  readonly chunkBytes: number;
  readonly maxChunksInFlight: number;
  readonly timeoutMs: number;
}

interface Outgoing {
  readonly to: NodeId;
  reader: SnapshotReader;
  iterator: AsyncIterator<Uint8Array>;
  /** Offset of the next chunk to read from storage. */
  readOffset: number;
  /** Highest offset the receiver confirmed. */
  ackedOffset: number;
  inFlight: number;
  sentDone: boolean;
  pumping: boolean;
  timer: TimerHandle | null;
  nextSeq: number;
  /** Answers to chunks sent before the last resume are stale. */
  resumeSeq: number;
  /**
   * Bumped by every resume. A pump that was awaiting a read when a resume replaced the stream
   * sees the change and drops what it read: its offset belongs to the old stream.
   */
  generation: number;
  /** A resume is repositioning the stream: nobody else may read it meanwhile. */
  resuming: boolean;
}

/**
 * Streams the current snapshot from storage to followers that need it (leader side): chunks of
 * `chunkBytes`, at most `maxChunksInFlight` unacknowledged, resuming from the offset the
 * receiver reports. A transfer with no answer for `timeoutMs` is abandoned (`onDone(peer, false)`)
 * and the core retries later.
 */
export class SnapshotSender {
  readonly #o: SnapshotTransferOptions;
  readonly #onDone: (peer: NodeId, succeeded: boolean) => void;
  readonly #outgoing = new Map<NodeId, Outgoing>();

  constructor(options: SnapshotTransferOptions, onDone: (peer: NodeId, succeeded: boolean) => void) {
    this.#o = options;
    this.#onDone = onDone;
  }

  get transfers(): SnapshotTransferStatus[] {
    return [...this.#outgoing.values()].map((t) => ({
      peer: t.to,
      direction: 'sending',
      index: t.reader.meta.index,
      bytes: t.ackedOffset,
    }));
  }

  /** Start streaming to `to` (no-op if already under way). Never rejects: failures end the transfer. */
  async start(to: NodeId): Promise<void> {
    if (this.#outgoing.has(to)) return;
    let reader: SnapshotReader | null;
    try {
      reader = await this.#o.storage.openSnapshot();
    } catch (error) {
      this.#o.logger.error({ peer: to, err: error }, 'opening the snapshot failed');
      this.#onDone(to, false);
      return;
    }
    if (reader === null) {
      this.#o.logger.error({ peer: to }, 'a follower needs a snapshot but storage has none');
      this.#onDone(to, false);
      return;
    }
    const t: Outgoing = {
      to,
      reader,
      iterator: reader.chunks(this.#o.chunkBytes)[Symbol.asyncIterator](),
      readOffset: 0,
      ackedOffset: 0,
      inFlight: 0,
      sentDone: false,
      pumping: false,
      timer: null,
      nextSeq: 1,
      resumeSeq: 0,
      generation: 0,
      resuming: false,
    };
    this.#outgoing.set(to, t);
    this.#o.logger.info(
      { peer: to, index: reader.meta.index, sizeBytes: reader.meta.sizeBytes },
      'sending snapshot',
    );
    this.#armTimeout(t);
    await this.#pump(t);
  }

  onResponse(from: NodeId, r: SnapshotResponse): void {
    const t = this.#outgoing.get(from);
    if (t?.reader.meta.index !== r.index || r.seq < t.resumeSeq) return;
    this.#armTimeout(t);
    if (r.complete) {
      this.#finish(t, true);
      return;
    }
    if (!r.accepted) {
      // A chunk went missing (or the receiver restarted): resume from the offset it expects.
      void this.#resumeFrom(t, r.nextOffset);
      return;
    }
    t.inFlight = Math.max(0, t.inFlight - 1);
    t.ackedOffset = Math.max(t.ackedOffset, r.nextOffset);
    void this.#pump(t);
  }

  async #resumeFrom(t: Outgoing, offset: number): Promise<void> {
    const generation = ++t.generation;
    t.resuming = true;
    try {
      // Waits for a read the pump may have in progress on the old stream.
      await t.iterator.return?.();
      if (generation !== t.generation) return; // a newer resume took over
      t.iterator = t.reader.chunks(this.#o.chunkBytes)[Symbol.asyncIterator]();
      t.readOffset = 0;
      t.ackedOffset = offset;
      t.inFlight = 0;
      t.sentDone = false;
      t.resumeSeq = t.nextSeq;
      // Skip what the receiver already has (chunks are aligned to chunkBytes).
      while (t.readOffset < offset) {
        const next = await t.iterator.next();
        if (generation !== t.generation) return;
        if (next.done === true) break;
        t.readOffset += next.value.byteLength;
      }
    } catch (error) {
      if (generation !== t.generation) return;
      this.#o.logger.error({ peer: t.to, err: error }, 'reading the snapshot failed');
      this.#finish(t, false);
      return;
    } finally {
      if (generation === t.generation) t.resuming = false;
    }
    await this.#pump(t);
  }

  async #pump(t: Outgoing): Promise<void> {
    if (t.pumping || t.resuming) return;
    t.pumping = true;
    const generation = t.generation;
    let superseded = false;
    try {
      while (this.#outgoing.get(t.to) === t && !t.sentDone && t.inFlight < this.#o.maxChunksInFlight) {
        const next = await t.iterator.next();
        if (generation !== t.generation) {
          superseded = true;
          break;
        }
        const data = next.done === true ? new Uint8Array(0) : next.value;
        const chunk: SnapshotChunk = {
          type: 'snapshot',
          from: this.#o.localId,
          to: t.to,
          ...this.#o.envelope(),
          meta: t.reader.meta,
          offset: t.readOffset,
          data,
          done: next.done === true,
          seq: t.nextSeq++,
        };
        t.readOffset += data.byteLength;
        t.inFlight++;
        t.sentDone = next.done === true;
        this.#o.send(t.to, chunk);
      }
    } catch (error) {
      if (generation !== t.generation) superseded = true;
      else {
        this.#o.logger.error({ peer: t.to, err: error }, 'reading the snapshot failed');
        this.#finish(t, false);
      }
    } finally {
      t.pumping = false;
    }
    // The stream was replaced while we read: pump the new one (a no-op while the resume runs).
    if (superseded) await this.#pump(t);
  }

  #armTimeout(t: Outgoing): void {
    if (t.timer !== null) this.#o.clock.clearTimeout(t.timer);
    t.timer = this.#o.clock.setTimeout(() => {
      this.#o.logger.warn({ peer: t.to, bytes: t.ackedOffset }, 'snapshot transfer timed out');
      this.#finish(t, false);
    }, this.#o.timeoutMs);
  }

  #finish(t: Outgoing, succeeded: boolean): void {
    if (this.#outgoing.get(t.to) !== t) return;
    this.#outgoing.delete(t.to);
    if (t.timer !== null) this.#o.clock.clearTimeout(t.timer);
    t.iterator.return?.().catch(() => undefined);
    if (succeeded) this.#o.logger.info({ peer: t.to, index: t.reader.meta.index }, 'snapshot delivered');
    this.#onDone(t.to, succeeded);
  }

  close(): void {
    for (const t of [...this.#outgoing.values()]) this.#finish(t, false);
  }
}

/** What a {@link SnapshotReceiver} asks of its node. */
export interface SnapshotReceiverHooks {
  /** Restore a durable snapshot into the state machine and install it in the core. */
  readonly install: (meta: SnapshotMeta, from: NodeId) => Promise<void>;
  /**
   * Whether a snapshot is newer than what this node has committed: an older one must never
   * replace the state machine or a newer durable snapshot.
   */
  readonly isAhead: (meta: SnapshotMeta) => boolean;
  /**
   * Saving or installing a snapshot failed (also a transfer abandoned midway). The node decides
   * what that means: an error that leaves its storage refusing every later write stops it. May be
   * called twice for one failure.
   */
  readonly onFailure: (error: unknown) => void;
}

interface Incoming {
  readonly from: NodeId;
  readonly meta: SnapshotMeta;
  readonly queue: ChunkQueue;
  readonly saved: Promise<void>;
  received: number;
}

/**
 * Receives a snapshot from the leader (follower side): chunks are appended in order to a new
 * snapshot in storage as they arrive; once the last one is durable, the snapshot is restored into
 * the state machine and installed in the core. Out-of-order chunks are answered with the offset
 * we expect, which makes the sender resume there.
 */
export class SnapshotReceiver {
  readonly #o: SnapshotTransferOptions;
  readonly #hooks: SnapshotReceiverHooks;
  #incoming: Incoming | null = null;

  constructor(options: SnapshotTransferOptions, hooks: SnapshotReceiverHooks) {
    this.#o = options;
    this.#hooks = hooks;
  }

  get transfers(): SnapshotTransferStatus[] {
    const t = this.#incoming;
    return t === null
      ? []
      : [{ peer: t.from, direction: 'receiving', index: t.meta.index, bytes: t.received }];
  }

  onChunk(chunk: SnapshotChunk): void {
    let t = this.#incoming;
    const same = t !== null && t.meta.index === chunk.meta.index && t.meta.term === chunk.meta.term;
    if (!same && !this.#hooks.isAhead(chunk.meta)) {
      // We already have everything it covers (caught up from the log meanwhile): say so.
      this.#reply(chunk, chunk.offset + chunk.data.byteLength, true, true);
      return;
    }
    if (!same) {
      if (chunk.offset !== 0) {
        this.#reply(chunk, 0, false, false);
        return;
      }
      t?.queue.fail(new Error('superseded by a newer snapshot'));
      t = this.#begin(chunk);
    }
    if (t === null) return;
    if (chunk.offset !== t.received) {
      // A gap, or a chunk we already have (a restarted sender): tell the sender where to resume.
      this.#reply(chunk, t.received, false, false);
      return;
    }
    const received = t.received + chunk.data.byteLength;
    // Acknowledged once storage takes it (see ChunkQueue): the sender's window is our buffer.
    const ack = chunk.done
      ? undefined
      : () => {
          this.#reply(chunk, received, true, false);
        };
    if (chunk.data.byteLength > 0 && !t.queue.push(chunk.data, ack)) {
      this.#reply(chunk, t.received, false, false);
      return;
    }
    t.received = received;
    if (!chunk.done) {
      if (chunk.data.byteLength === 0) ack?.();
      return;
    }
    if (!this.#hooks.isAhead(t.meta)) {
      // Overtaken while it streamed: abandon it, keeping the newer durable snapshot we have.
      t.queue.fail(new Error('snapshot overtaken by the log'));
      this.#incoming = null;
      this.#reply(chunk, t.received, true, true);
      return;
    }
    t.queue.end();
    void this.#complete(t, chunk);
  }

  #begin(chunk: SnapshotChunk): Incoming {
    const queue = new ChunkQueue(this.#o.maxChunksInFlight * 4);
    const saved = this.#o.storage.saveSnapshot(chunk.meta, queue);
    const t: Incoming = { from: chunk.from, meta: chunk.meta, queue, saved, received: 0 };
    // Awaited in #complete too; this catches the failures of a transfer abandoned before its end.
    saved.catch((error: unknown) => {
      this.#hooks.onFailure(error);
    });
    this.#incoming = t;
    this.#o.logger.info({ from: chunk.from, index: chunk.meta.index }, 'receiving snapshot');
    return t;
  }

  async #complete(t: Incoming, last: SnapshotChunk): Promise<void> {
    try {
      await t.saved;
      await this.#hooks.install(t.meta, t.from);
      this.#reply(last, t.received, true, true);
      this.#o.logger.info({ from: t.from, index: t.meta.index, bytes: t.received }, 'snapshot installed');
    } catch (error) {
      this.#o.logger.error({ from: t.from, err: error }, 'installing the snapshot failed');
      this.#reply(last, 0, false, false);
      this.#hooks.onFailure(error);
    } finally {
      if (this.#incoming === t) this.#incoming = null;
    }
  }

  #reply(chunk: SnapshotChunk, nextOffset: number, accepted: boolean, complete: boolean): void {
    this.#o.send(chunk.from, {
      type: 'snapshot-response',
      from: this.#o.localId,
      to: chunk.from,
      index: chunk.meta.index,
      seq: chunk.seq,
      accepted,
      nextOffset,
      complete,
    });
  }

  close(): void {
    this.#incoming?.queue.fail(new Error('node stopped'));
    this.#incoming = null;
  }
}
