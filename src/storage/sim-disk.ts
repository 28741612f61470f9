import { basename, dirname } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import { writeThenSync, type DiskFile, type DiskIO, type DiskReader } from './disk.ts';

/** Options of {@link SimDisk}. */
export interface SimDiskOptions {
  /** Chooses tear points and flipped bits, so that a failing run replays from its seed. */
  readonly random: Random;
  /** With a clock, every operation completes after `latencyMs` of virtual time; else on the next microtask. */
  readonly clock?: Clock;
  readonly latencyMs?: number;
  /** Total bytes the disk holds; a write beyond it stores what fits and fails with ENOSPC. */
  readonly capacityBytes?: number;
}

/** What a crash does to writes that were not yet made durable. */
export interface CrashOptions {
  /**
   * false (default): every unsynced write is lost. true: the writes reached the platter in order
   * and power failed during the last one of each file, which keeps a random prefix of its bytes.
   */
  readonly tear?: boolean;
}

/** Thrown by every operation once the disk has reached its `crashAfterOps` point. */
export class SimDiskCrashed extends Error {
  readonly code = 'SIM_DISK_CRASHED';
  constructor() {
    super('the simulated process crashed (SimDisk reached its crash point)');
  }
}

/** One change since the last datasync, with what it replaced, so that a crash can undo it. */
interface UndoRecord {
  readonly position: number;
  /** Bytes written (empty for a truncate). */
  readonly written: Uint8Array;
  /** Length of the file before the change, and the bytes the change overwrote or cut. */
  readonly oldLength: number;
  readonly oldBytes: Uint8Array;
}

class SimInode {
  bytes = new Uint8Array(0);
  length = 0;
  undo: UndoRecord[] = [];

  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  /** Set the length, growing the buffer geometrically and zero-filling any gap. */
  resize(length: number): void {
    if (length > this.bytes.byteLength) {
      const grown = new Uint8Array(Math.max(length, this.bytes.byteLength * 2, 4096));
      grown.set(this.view());
      this.bytes = grown;
    } else if (length > this.length) {
      this.bytes.fill(0, this.length, length);
    }
    this.length = length;
  }

  write(data: Uint8Array, position: number): void {
    const oldLength = this.length;
    const end = position + data.byteLength;
    const oldBytes = this.bytes.slice(Math.min(position, oldLength), Math.min(end, oldLength));
    this.undo.push({ position, written: data.slice(), oldLength, oldBytes });
    if (end > this.length) this.resize(end);
    this.bytes.set(data, position);
  }

  truncate(length: number): void {
    const oldLength = this.length;
    this.undo.push({
      position: length,
      written: new Uint8Array(0),
      oldLength,
      oldBytes: this.bytes.slice(Math.min(length, oldLength), oldLength),
    });
    this.resize(length);
  }

  /** Revert one change exactly. */
  revert(change: UndoRecord): void {
    const start = Math.min(change.position, change.oldLength);
    this.resize(Math.max(this.length, change.oldLength));
    this.bytes.set(change.oldBytes, start);
    this.length = change.oldLength;
  }
}

interface SimDir {
  /** Names as the running process sees them. */
  entries: Map<string, SimInode>;
  /** Names as they would be found after a crash. */
  durable: Map<string, SimInode>;
}

/**
 * An in-memory {@link DiskIO} that fails like a real disk: data written but not fdatasynced, and
 * names created, renamed or removed but not fsynced in their directory, are lost at `crash()`;
 * the last unsynced write of a file can be torn; a bit can be flipped anywhere; space can run out.
 * Every operation completes deterministically, so a simulation stays replayable from its seed.
 *
 * `opCount` counts the operations that change the disk (open, write, datasync, truncate, rename,
 * unlink, fsyncDir); set `crashAfterOps = k` and every operation after the k-th throws
 * {@link SimDiskCrashed}: that is a crash at the k-th write boundary.
 */
export class SimDisk implements DiskIO {
  readonly #dirs = new Map<string, SimDir>();
  readonly #random: Random;
  readonly #clock: Clock | undefined;
  readonly #latencyMs: number;
  /** Total bytes the disk can hold. */
  capacityBytes: number;
  /** Operations that changed the disk so far. */
  opCount = 0;
  /** When set, operations after this many fail with {@link SimDiskCrashed} until `crash()`. */
  crashAfterOps: number | null = null;
  /** Incremented by every crash: files opened and views taken before it are dead. */
  #generation = 0;

  constructor(options: SimDiskOptions) {
    this.#random = options.random;
    this.#clock = options.clock;
    this.#latencyMs = options.latencyMs ?? 0;
    this.capacityBytes = options.capacityBytes ?? Number.POSITIVE_INFINITY;
  }

  /** Bytes held by all files that have a name. */
  usedBytes(): number {
    let total = 0;
    for (const inode of this.#liveInodes()) total += inode.length;
    return total;
  }

  /**
   * Power failure: undo every change that was not made durable (or, with `tear`, keep them and a
   * random prefix of the last one per file), and bring back the durable names. Clears
   * `crashAfterOps` so the restarted process can use the disk.
   */
  crash(options: CrashOptions = {}): void {
    const inodes = new Set<SimInode>();
    for (const dir of this.#dirs.values()) {
      for (const inode of dir.entries.values()) inodes.add(inode);
      for (const inode of dir.durable.values()) inodes.add(inode);
      dir.entries = new Map(dir.durable);
    }
    for (const inode of inodes) this.#loseUnsynced(inode, options.tear ?? false);
    this.crashAfterOps = null;
    this.#generation++;
  }

  /**
   * Flip one bit of `path` (durably: it is bit rot, not a lost write) at `offsetBytes`, or at a
   * random offset at or after `fromBytes`. Returns the offset of the flipped byte.
   */
  flipBit(path: string, offsetBytes?: number, fromBytes = 0): number {
    const inode = this.#dir(dirname(path)).entries.get(basename(path));
    if (inode === undefined || inode.length <= fromBytes)
      throw new Error(`flipBit: ${path} has no such byte`);
    const at = offsetBytes ?? fromBytes + this.#random.int(inode.length - fromBytes);
    const mask = 1 << this.#random.int(8);
    inode.bytes[at] = inode.bytes[at]! ^ mask;
    for (const change of inode.undo) {
      // Flip the same bit in what a crash would restore, so the flip survives the crash.
      const rel = at - Math.min(change.position, change.oldLength);
      if (rel >= 0 && rel < change.oldBytes.byteLength) change.oldBytes[rel] = change.oldBytes[rel]! ^ mask;
    }
    return at;
  }

  /** The current content of `path` (a copy), or null. For tests and tools. */
  contents(path: string): Uint8Array | null {
    return this.#dir(dirname(path)).entries.get(basename(path))?.view().slice() ?? null;
  }

  mkdir(dir: string): Promise<void> {
    return this.#op(true, () => {
      this.#dir(dir);
    });
  }

  list(dir: string): Promise<string[]> {
    return this.#op(false, () => [...this.#dir(dir).entries.keys()].sort());
  }

  open(path: string, mode: 'create' | 'existing'): Promise<DiskFile> {
    const generation = this.#generation;
    return this.#op(true, () => {
      const dir = this.#dir(dirname(path));
      let inode = dir.entries.get(basename(path));
      if (inode === undefined) {
        if (mode === 'existing') throw errnoError('ENOENT', path);
        inode = new SimInode();
        dir.entries.set(basename(path), inode);
      } else if (mode === 'create') {
        inode.truncate(0);
      }
      const file: SimFileOps = {
        path,
        run: (changes, action) => this.#op(changes, action, generation),
        write: (data, position) => {
          this.#writeWithinCapacity(inode, data, position, path);
        },
        datasync: () => {
          inode.undo = [];
        },
        truncate: (sizeBytes) => {
          inode.truncate(sizeBytes);
        },
      };
      return new SimFile(file);
    });
  }

  openRead(path: string): Promise<DiskReader | null> {
    const generation = this.#generation;
    return this.#op(false, () => {
      const inode = this.#dir(dirname(path)).entries.get(basename(path));
      if (inode === undefined) return null;
      return new SimReader(inode.length, (position, length) =>
        this.#op(false, () => inode.view().slice(position, position + length), generation),
      );
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.#op(true, () => {
      const source = this.#dir(dirname(from));
      const inode = source.entries.get(basename(from));
      if (inode === undefined) throw errnoError('ENOENT', from);
      source.entries.delete(basename(from));
      this.#dir(dirname(to)).entries.set(basename(to), inode);
    });
  }

  unlink(path: string): Promise<void> {
    return this.#op(true, () => {
      this.#dir(dirname(path)).entries.delete(basename(path));
    });
  }

  fsyncDir(dir: string): Promise<void> {
    return this.#op(true, () => {
      const d = this.#dir(dir);
      d.durable = new Map(d.entries);
    });
  }

  /** Store what fits of a write; throws ENOSPC when not all of it fits. */
  #writeWithinCapacity(inode: SimInode, data: Uint8Array, position: number, path: string): void {
    const growth = Math.max(0, position + data.byteLength - inode.length);
    const free = this.capacityBytes - this.usedBytes();
    if (growth <= free) {
      inode.write(data, position);
      return;
    }
    const fits = Math.max(0, inode.length + Math.max(0, free) - position);
    if (fits > 0) inode.write(data.subarray(0, fits), position);
    throw errnoError('ENOSPC', path);
  }

  /**
   * The disk as one incarnation of a process sees it: after the next `crash()`, every operation
   * through this view fails with {@link SimDiskCrashed}, so a process that "died" (its promises
   * still pending in the simulator) can never write to the disk its successor recovers from.
   * Files are fenced the same way whether opened through a view or not.
   */
  view(): DiskIO {
    const generation = this.#generation;
    const fenced = <T>(operation: () => Promise<T>): Promise<T> =>
      generation === this.#generation ? operation() : Promise.reject(new SimDiskCrashed());
    return {
      mkdir: (dir) => fenced(() => this.mkdir(dir)),
      list: (dir) => fenced(() => this.list(dir)),
      open: (path, mode) => fenced(() => this.open(path, mode)),
      openRead: (path) => fenced(() => this.openRead(path)),
      rename: (from, to) => fenced(() => this.rename(from, to)),
      unlink: (path) => fenced(() => this.unlink(path)),
      fsyncDir: (dir) => fenced(() => this.fsyncDir(dir)),
    };
  }

  #op<T>(changes: boolean, run: () => T, generation = this.#generation): Promise<T> {
    if (generation !== this.#generation) return Promise.reject(new SimDiskCrashed());
    if (this.crashAfterOps !== null && this.opCount >= this.crashAfterOps) {
      return Promise.reject(new SimDiskCrashed());
    }
    if (changes) this.opCount++;
    let result: T;
    try {
      result = run();
    } catch (error) {
      return this.#settle(() => Promise.reject(error as Error));
    }
    return this.#settle(() => Promise.resolve(result));
  }

  #settle<T>(outcome: () => Promise<T>): Promise<T> {
    const clock = this.#clock;
    if (clock === undefined || this.#latencyMs <= 0) return outcome();
    return new Promise<T>((resolve, reject) => {
      clock.setTimeout(() => {
        outcome().then(resolve, reject);
      }, this.#latencyMs);
    });
  }

  #loseUnsynced(inode: SimInode, tear: boolean): void {
    const last = inode.undo.at(-1);
    if (tear && last !== undefined) {
      inode.revert(last);
      if (last.written.byteLength > 0) {
        // Power failed during the last write: a prefix of it reached the disk.
        const kept = this.#random.int(last.written.byteLength);
        inode.undo = [];
        if (kept > 0) inode.write(last.written.subarray(0, kept), last.position);
      } else if (this.#random.chance(0.5)) {
        inode.resize(last.position); // the truncate happened
      }
    } else {
      for (let i = inode.undo.length - 1; i >= 0; i--) inode.revert(inode.undo[i]!);
    }
    inode.undo = [];
  }

  #liveInodes(): Set<SimInode> {
    const inodes = new Set<SimInode>();
    for (const dir of this.#dirs.values()) for (const inode of dir.entries.values()) inodes.add(inode);
    return inodes;
  }

  #dir(path: string): SimDir {
    let dir = this.#dirs.get(path);
    if (dir === undefined) {
      dir = { entries: new Map(), durable: new Map() };
      this.#dirs.set(path, dir);
    }
    return dir;
  }
}

/** What a {@link SimFile} may do to its inode, as closures so the inode type stays private. */
interface SimFileOps {
  readonly path: string;
  run(changes: boolean, action: () => void): Promise<void>;
  write(data: Uint8Array, position: number): void;
  datasync(): void;
  truncate(sizeBytes: number): void;
}

class SimFile implements DiskFile {
  readonly #ops: SimFileOps;
  #closed = false;

  constructor(ops: SimFileOps) {
    this.#ops = ops;
  }

  write(data: Uint8Array, position: number): Promise<void> {
    return this.#ops.run(true, () => {
      this.#checkOpen();
      this.#ops.write(data, position);
    });
  }

  datasync(): Promise<void> {
    return this.#ops.run(true, () => {
      this.#checkOpen();
      this.#ops.datasync();
    });
  }

  writeAndSync(data: Uint8Array, position: number): Promise<void> {
    return writeThenSync(this, data, position);
  }

  truncate(sizeBytes: number): Promise<void> {
    return this.#ops.run(true, () => {
      this.#checkOpen();
      this.#ops.truncate(sizeBytes);
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #checkOpen(): void {
    if (this.#closed) throw errnoError('EBADF', this.#ops.path);
  }
}

class SimReader implements DiskReader {
  readonly sizeBytes: number;
  readonly read: (position: number, length: number) => Promise<Uint8Array>;

  constructor(sizeBytes: number, read: (position: number, length: number) => Promise<Uint8Array>) {
    this.sizeBytes = sizeBytes;
    this.read = read;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function errnoError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: simulated disk error, ${path}`), { code, path });
}
