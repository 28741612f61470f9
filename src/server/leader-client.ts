import { Agent, request } from 'undici';
import { SkeinError } from '../core/errors.ts';
import type { KvStore } from '../kv/index.ts';
import type { RaftNode } from '../raft/node.ts';
import { FORWARDED_HEADER } from './lease-routes.ts';

export interface LeaderClientOptions {
  readonly node: RaftNode;
  readonly store: KvStore;
  readonly authToken: string | undefined;
  readonly timeoutMs: number;
}

/** The client URL member `memberId` published in the replicated store, or undefined before it has. */
export function publishedClientUrl(store: KvStore, memberId: string): string | undefined {
  const url = store.members().find((m) => m.id === memberId)?.clientUrl;
  return url === undefined || url === '' ? undefined : url;
}

/**
 * Forwards the few requests only the leader can answer (lease keepalive and time-to-live) to the
 * leader's client URL, which every member publishes in the replicated store.
 */
export class LeaderClient {
  readonly #node: RaftNode;
  readonly #store: KvStore;
  readonly #authToken: string | undefined;
  readonly #timeoutMs: number;
  readonly #agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });

  constructor(options: LeaderClientOptions) {
    this.#node = options.node;
    this.#store = options.store;
    this.#authToken = options.authToken;
    this.#timeoutMs = options.timeoutMs;
  }

  async post(path: string, body: unknown): Promise<unknown> {
    const leaderId = this.#node.leaderId;
    if (leaderId === null)
      throw new SkeinError('SKEIN_NO_LEADER', 'no leader is known right now; retry after an election');
    const url = publishedClientUrl(this.#store, leaderId);
    if (url === undefined) {
      throw new SkeinError(
        'SKEIN_UNAVAILABLE',
        `leader ${leaderId} has not published its client URL yet; retry`,
      );
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', [FORWARDED_HEADER]: '1' };
    if (this.#authToken !== undefined) headers['authorization'] = `Bearer ${this.#authToken}`;
    let answer;
    try {
      answer = await request(`${url}${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        dispatcher: this.#agent,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (error) {
      throw new SkeinError('SKEIN_UNAVAILABLE', `cannot reach leader ${leaderId} at ${url}; retry`, {
        cause: error,
      });
    }
    const json = (await answer.body.json()) as {
      error?: { code: string; message: string; details?: Record<string, unknown> };
    };
    if (answer.statusCode === 200) return json;
    const e = json.error ?? { code: 'SKEIN_UNAVAILABLE', message: `leader answered ${answer.statusCode}` };
    throw new SkeinError(e.code, e.message, e.details === undefined ? {} : { details: e.details });
  }

  close(): void {
    void this.#agent.close();
  }
}
