import { writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';

/** A file open for writing. Writes are positional; nothing is durable until `datasync` resolves. */
export interface DiskFile {
  /** Write all of `data` at byte `position` (the file grows as needed). */
  write(data: Uint8Array, position: number): Promise<void>;
  /** Make every completed write to this file durable (fdatasync). */
  datasync(): Promise<void>;
  /**
   * `write` then `datasync`, as one call: {@link NodeDisk} makes a small write and starts the
   * fdatasync before returning, so the sync is under way before the caller's next statement.
   */
  writeAndSync(data: Uint8Array, position: number): Promise<void>;
  truncate(sizeBytes: number): Promise<void>;
  close(): Promise<void>;
}

/** A file open for reading. It keeps reading the same file even if a rename replaces its name. */
export interface DiskReader {
  readonly sizeBytes: number;
  /** Up to `length` bytes from `position` (fewer at the end of the file). */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * The few file-system operations the write-ahead log needs. {@link NodeDisk} runs them on the real
 * file system; `SimDisk` (skein/testing) runs them in memory and can crash, tear writes, flip bits
 * and run out of space. The WAL code is the same on both, so what the simulator proves is what
 * runs in production.
 *
 * Durability is explicit, as on POSIX: file contents become durable at `DiskFile.datasync`; the
 * creation, rename or removal of a name becomes durable at `fsyncDir` of its directory.
 */
export interface DiskIO {
  /** Create `dir` and its parents if missing. */
  mkdir(dir: string): Promise<void>;
  /** Names (not paths) of the files in `dir`. */
  list(dir: string): Promise<string[]>;
  /** Open `path` for writing: `create` creates or empties it, `existing` opens it as it is. */
  open(path: string, mode: 'create' | 'existing'): Promise<DiskFile>;
  /** Open `path` for reading, or null when it does not exist. */
  openRead(path: string): Promise<DiskReader | null>;
  /** Atomically replace `to` with `from`. */
  rename(from: string, to: string): Promise<void>;
  /** Remove `path`; no error when it does not exist. */
  unlink(path: string): Promise<void>;
  /** Make the names in `dir` durable (creations, renames and removals). */
  fsyncDir(dir: string): Promise<void>;
}

/** `DiskFile.writeAndSync` for a file that has no faster way than `write`, then `datasync`. */
export async function writeThenSync(
  file: Pick<DiskFile, 'write' | 'datasync'>,
  data: Uint8Array,
  position: number,
): Promise<void> {
  await file.write(data, position);
  await file.datasync();
}

/** The whole content of `path`, or null when it does not exist. */
export async function readWhole(disk: DiskIO, path: string): Promise<Uint8Array | null> {
  const reader = await disk.openRead(path);
  if (reader === null) return null;
  try {
    return await reader.read(0, reader.sizeBytes);
  } finally {
    await reader.close();
  }
}

/** {@link DiskIO} on the real file system, through `node:fs/promises`. */
export class NodeDisk implements DiskIO {
  async mkdir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
  }

  async list(dir: string): Promise<string[]> {
    return await readdir(dir);
  }

  async open(path: string, mode: 'create' | 'existing'): Promise<DiskFile> {
    return new NodeFile(await open(path, mode === 'create' ? 'w' : 'r+'));
  }

  async openRead(path: string): Promise<DiskReader | null> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      return new NodeReader(handle, size);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    try {
      await unlink(path);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
    }
  }

  async fsyncDir(dir: string): Promise<void> {
    // Linux makes directory entries durable with fsync on a read-only descriptor of the directory.
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/**
 * Writes up to this size are made on the calling thread. Copying a WAL batch into the page cache
 * takes microseconds, while a round trip through libuv's thread pool costs a wake-up on each side:
 * 230–550 µs p50 per write on a loaded 2-core machine, against 55–110 µs done here (measured on a
 * follower in `bench:raft --mode tcp --durable`). Larger writes still go to the pool, so that one
 * big batch cannot stall the event loop. fdatasync always goes to the pool: it waits for the disk.
 */
export const syncWriteMaxBytes = 256 * 1024;

/** `bytesWritten` of one write call, refusing 0: a write that makes no progress would loop forever. */
function madeProgress(bytesWritten: number): number {
  if (bytesWritten === 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
  return bytesWritten;
}

class NodeFile implements DiskFile {
  readonly #handle: FileHandle;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    if (data.byteLength <= syncWriteMaxBytes) {
      this.#writeHere(data, position);
      return;
    }
    // write() may be partial; loop until every byte is handed to the kernel.
    for (let done = 0; done < data.byteLength;) {
      const length = data.byteLength - done;
      const { bytesWritten } = await this.#handle.write(data, done, length, position + done);
      done += madeProgress(bytesWritten);
    }
  }

  async datasync(): Promise<void> {
    await this.#handle.datasync();
  }

  async writeAndSync(data: Uint8Array, position: number): Promise<void> {
    if (data.byteLength > syncWriteMaxBytes) return writeThenSync(this, data, position);
    // The write is made and the fdatasync started before this call returns.
    this.#writeHere(data, position);
    await this.#handle.datasync();
  }

  /** Write on the calling thread (see {@link syncWriteMaxBytes}). */
  #writeHere(data: Uint8Array, position: number): void {
    const fd = this.#handle.fd;
    for (let done = 0; done < data.byteLength;) {
      done += madeProgress(writeSync(fd, data, done, data.byteLength - done, position + done));
    }
  }

  async truncate(sizeBytes: number): Promise<void> {
    await this.#handle.truncate(sizeBytes);
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

class NodeReader implements DiskReader {
  readonly #handle: FileHandle;
  readonly sizeBytes: number;

  constructor(handle: FileHandle, sizeBytes: number) {
    this.#handle = handle;
    this.sizeBytes = sizeBytes;
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.#handle.read(buffer, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buffer.subarray(0, done);
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}
