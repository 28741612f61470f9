import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { SkeinError } from '../core/errors.ts';
import type { ControlReply, ControlRequest } from './ipc-control.ts';

const SKEIN_BIN = fileURLToPath(new URL('../../bin/skein.mjs', import.meta.url));

/** Options of {@link spawnMember}. */
export interface SpawnMemberOptions {
  /** Arguments after `skein raft-node`. */
  readonly args: readonly string[];
  /** Extra environment (e.g. SKEIN_CLUSTER_SECRET). */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra node flags (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /** Keep at most this many bytes of stdout+stderr (pino lines) for inspection. Default 4 MiB. */
  readonly maxOutputBytes?: number;
}

type Request = ControlRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

interface MemberProcessEvents {
  leader: [leaderId: string | null, term: number];
  exit: [code: number | null, signal: NodeJS.Signals | null];
}

/**
 * A `skein raft-node` child process driven over its IPC channel: the parent side of the control
 * surface in ipc-control.ts. Used by the multi-process tests and the Raft benchmark.
 */
export class MemberProcess extends EventEmitter<MemberProcessEvents> {
  readonly child: ChildProcess;
  /** Set once the child reported its listen address. */
  address: string | null = null;
  /** Captured log output (bounded). */
  output = '';
  exited = false;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  readonly #maxOutputBytes: number;
  #nextId = 1;

  constructor(options: SpawnMemberOptions) {
    super();
    this.#maxOutputBytes = options.maxOutputBytes ?? 4 * 1024 * 1024;
    this.child = spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), SKEIN_BIN, 'raft-node', ...options.args],
      {
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: { ...process.env, ...options.env },
      },
    );
    const capture = (chunk: Buffer): void => {
      if (this.output.length < this.#maxOutputBytes) this.output += chunk.toString('utf8');
    };
    this.child.stdout!.on('data', capture);
    this.child.stderr!.on('data', capture);
    this.child.on('message', (message) => {
      this.#onMessage(message as Record<string, unknown>);
    });
    // 'close' rather than 'exit': it comes after stdout and stderr are drained, so `output` is complete.
    this.child.on('close', (code, signal) => {
      this.exited = true;
      const error = new SkeinError('SKEIN_CLOSED', `member exited (code ${code}, signal ${signal})`);
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
      this.emit('exit', code, signal);
    });
  }

  /** Resolve with the listen address once the member is up; reject if it exits first. */
  ready(timeoutMs = 20_000): Promise<string> {
    if (this.address !== null) return Promise.resolve(this.address);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`member did not start within ${timeoutMs} ms; output:\n${this.output}`));
      }, timeoutMs);
      const onExit = (): void => {
        clearTimeout(timer);
        reject(new Error(`member exited before it started; output:\n${this.output}`));
      };
      this.once('exit', onExit);
      this.child.once('message', () => {
        if (this.address === null) return;
        clearTimeout(timer);
        this.off('exit', onExit);
        resolve(this.address);
      });
    });
  }

  /** Send one control request; resolves with its value or rejects with a SkeinError (code, message). */
  request(request: Request): Promise<unknown> {
    if (this.exited || !this.child.connected) {
      return Promise.reject(new SkeinError('SKEIN_CLOSED', 'member process is not running'));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // The child may die between the check above and this send (kill -9 in the chaos tests):
      // with a callback, a closed channel is reported here instead of as an uncaught EPIPE.
      this.child.send({ ...request, id }, (error: Error | null) => {
        if (error === null || !this.#pending.has(id)) return;
        this.#pending.delete(id);
        reject(new SkeinError('SKEIN_CLOSED', `member process is not running: ${error.message}`));
      });
    });
  }

  /** SIGKILL the child (no goodbye) and wait for it to exit. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.once('exit', () => {
        resolve();
      });
      this.child.kill(signal);
    });
  }

  #onMessage(message: Record<string, unknown>): void {
    if (message['event'] === 'listening') {
      this.address = message['address'] as string;
      return;
    }
    if (message['event'] === 'leader') {
      this.emit('leader', message['leaderId'] as string | null, message['term'] as number);
      return;
    }
    const reply = message as unknown as ControlReply;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new SkeinError(reply.error.code, reply.error.message));
  }
}

/** Spawn `skein raft-node <args>` as a child with an IPC channel. */
export function spawnMember(options: SpawnMemberOptions): MemberProcess {
  return new MemberProcess(options);
}

export { freePorts } from './free-ports.ts';
