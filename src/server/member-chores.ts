import { request } from 'undici';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/log.ts';
import type { KvStore } from '../kv/index.ts';
import type { RaftNode } from '../raft/node.ts';

export interface MemberChoresOptions {
  readonly node: RaftNode;
  readonly store: KvStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly name: string;
  readonly clientUrl: string;
  readonly peerAddress: string;
  /** Client URL of a member whose cluster this one should join (until it is a member). */
  readonly join: string | undefined;
  readonly authToken: string | undefined;
  /** Keep this many revisions; the leader compacts older history. 0 = never. */
  readonly autoCompactionRevisions: number;
  readonly onDataDirSize: () => void;
  /** Period of the chores. Default 1000 ms. */
  readonly periodMs?: number;
}

/**
 * Background duties of a member, each idempotent and retried every period until done: join the
 * cluster named by --join, publish this member's client URL in the replicated store (so that
 * followers can forward to the leader and clients can discover members), compact old history on
 * the leader, and refresh the data-directory size for status.
 */
export class MemberChores {
  readonly #o: MemberChoresOptions;
  readonly #periodMs: number;
  #timer: TimerHandle | null = null;
  readonly #busy = { join: false, publish: false, compact: false };
  #joined: boolean;
  #round = 0;

  constructor(options: MemberChoresOptions) {
    this.#o = options;
    this.#periodMs = options.periodMs ?? 1000;
    this.#joined = options.join === undefined;
    this.#run();
  }

  stop(): void {
    if (this.#timer !== null) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #run(): void {
    this.#round++;
    if (!this.#joined) this.#joinCluster();
    this.#publish();
    if (this.#round % 5 === 1) {
      this.#compact();
      this.#o.onDataDirSize();
    }
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#run();
    }, this.#periodMs);
  }

  #joinCluster(): void {
    const { node, name, join, peerAddress, logger } = this.#o;
    const config = node.status().config;
    if (Object.hasOwn(config.voters, name) || Object.hasOwn(config.learners, name)) {
      this.#joined = true;
      logger.info({ via: join }, 'joined the cluster');
      return;
    }
    if (this.#busy.join || join === undefined) return;
    this.#busy.join = true;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#o.authToken !== undefined) headers['authorization'] = `Bearer ${this.#o.authToken}`;
    request(`${join}/v1/members`, { method: 'POST', headers, body: JSON.stringify({ name, peerAddress }) })
      .then(async (answer) => {
        const body = (await answer.body.json()) as { error?: { code: string; message: string } };
        if (answer.statusCode === 200 || body.error?.code === 'SKEIN_ALREADY_MEMBER') {
          logger.info({ via: join }, 'the cluster added this member');
        } else {
          logger.warn({ via: join, error: body.error }, 'join refused; retrying');
        }
      })
      .catch((error: unknown) => {
        logger.warn({ via: join, err: error }, 'cannot reach the member to join through; retrying');
      })
      .finally(() => {
        this.#busy.join = false;
      });
  }

  #publish(): void {
    const { node, store, name, clientUrl, logger } = this.#o;
    if (this.#busy.publish || node.status().leaderId === null) return;
    const mine = store.members().find((m) => m.id === name);
    if (mine?.clientUrl === clientUrl) return;
    this.#busy.publish = true;
    node
      .enqueue('member-publish', { id: name, name, clientUrl })
      .then(
        () => {
          logger.debug({ clientUrl }, 'published the client URL');
        },
        (error: unknown) => {
          logger.debug({ err: error }, 'publishing the client URL failed; retrying');
        },
      )
      .finally(() => {
        this.#busy.publish = false;
      });
  }

  #compact(): void {
    const { node, store, autoCompactionRevisions: keep, logger } = this.#o;
    if (keep === 0 || this.#busy.compact || node.status().role !== 'leader') return;
    // Compact in steps of at least 10% of the retention, not on every new revision.
    if (store.revision - store.compactRevision <= keep + Math.max(1, Math.floor(keep / 10))) return;
    const revision = store.revision - keep;
    this.#busy.compact = true;
    node
      .enqueue('compact', { revision })
      .then(
        () => {
          logger.debug({ revision }, 'compacted history');
        },
        (error: unknown) => {
          logger.debug({ err: error, revision }, 'auto-compaction failed; will retry');
        },
      )
      .finally(() => {
        this.#busy.compact = false;
      });
  }
}
