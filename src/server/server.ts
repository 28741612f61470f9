import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RealClock, type Clock } from '../core/clock.ts';
import { SkeinError } from '../core/errors.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { KvDefaults, type KvStore } from '../kv/index.ts';
import type { MemberInfo, StatusResponse } from '../kv/types.ts';
import { RaftNode } from '../raft/node.ts';
import { FileStorage } from '../storage/file-storage.ts';
import { formatAddress } from '../transport/address.ts';
import { createTcpTransport } from '../transport/index.ts';
import type { ServerConfig } from './config.ts';
import type { ServerContext } from './context.ts';
import { CoordinationState } from './coordination-state.ts';
import { dataDirSizeBytes } from './data-dir-size.ts';
import { transferAndStop } from './graceful-leave.ts';
import { buildHttpApp } from './http-app.ts';
import { LeaderClient } from './leader-client.ts';
import { GroupSettler } from './group-settler.ts';
import { LeaderlessWatches } from './leaderless-watches.ts';
import { LeaseExpiry } from './lease-expiry.ts';
import { MemberChores } from './member-chores.ts';
import { createServerMetrics } from './metrics.ts';
import { WatchHub } from './watch-hub.ts';

const packageVersion = '0.1.0';

/** A running coordination-service member. */
export interface SkeinServer {
  readonly name: string;
  /** Where clients reach this member, e.g. http://127.0.0.1:8420. */
  readonly clientUrl: string;
  /** Where peers reach this member ("host:port"). */
  readonly peerAddress: string;
  readonly node: RaftNode;
  readonly store: KvStore;
  /** The replicated state: `store` plus the groups. */
  readonly state: CoordinationState;
  status(): StatusResponse;
  /**
   * Stop gracefully: refuse new requests, end watches, hand leadership to the most up-to-date
   * voter, flush storage, close sockets. Safe to call more than once.
   */
  close(reason?: string): Promise<void>;
}

export interface StartServerOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/** Start one member of a skein coordination cluster (or the single embedded member). */
export async function startServer(
  config: ServerConfig,
  options: StartServerOptions = {},
): Promise<SkeinServer> {
  const logger = options.logger ?? createLogger({ name: 'skein', level: config.logLevel });
  const clock = options.clock ?? new RealClock();
  await mkdir(config.dataDir, { recursive: true });
  const clusterSecret = config.clusterSecret ?? (await singleMemberSecret(config.dataDir, logger));
  const tls = await readTls(config);
  const transport = await createTcpTransport({
    id: config.name,
    listen: config.listenPeer,
    clusterSecret,
    ...(config.advertisePeer !== undefined
      ? { advertise: config.advertisePeer }
      : Object.hasOwn(config.initialCluster, config.name)
        ? { advertise: config.initialCluster[config.name]! }
        : {}),
    ...(tls !== undefined
      ? { tls: { key: tls.key, cert: tls.cert, ...(tls.ca !== undefined ? { ca: tls.ca } : {}) } }
      : {}),
    logger,
  });
  const peerAddress = transport.address;
  const bootstrapAlone = Object.keys(config.initialCluster).length === 0 && config.join === undefined;
  const peers = bootstrapAlone ? { [config.name]: peerAddress } : config.initialCluster;
  const state = new CoordinationState();
  const store = state.kv;
  let node: RaftNode;
  try {
    node = await RaftNode.create({
      id: config.name,
      address: peers[config.name] ?? peerAddress,
      ...(Object.keys(peers).length > 0 ? { peers } : {}),
      processors: state.processors(),
      stateMachine: state,
      transport,
      storage: new FileStorage(join(config.dataDir, 'raft'), { nodeId: config.name, logger }),
      tickIntervalMs: config.tickIntervalMs,
      electionTicks: config.electionTicks,
      snapshotEveryEntries: config.snapshotEveryEntries,
      requestTimeoutMs: config.requestTimeoutMs,
      clock,
      logger,
    });
  } catch (error) {
    await transport.close();
    throw error;
  }
  // The only voter need not wait out an election timeout.
  if (bootstrapAlone && Object.keys(node.status().config.voters).length <= 1) node.campaign();

  let closing = false;
  const leases = new LeaseExpiry({ node, store, clock, logger });
  const settler = new GroupSettler({ node, state, clock, logger });
  const watches = new WatchHub({ store, clock, progressIntervalMs: config.watchProgressIntervalMs });
  const leaderless = new LeaderlessWatches({
    node,
    watches,
    clock,
    logger,
    noLeaderMs: 2 * config.electionTicks * config.tickIntervalMs,
  });
  const leader = new LeaderClient({
    node,
    store,
    authToken: config.authToken,
    timeoutMs: config.requestTimeoutMs,
  });
  let dbSizeBytes = 0;
  const status = (): StatusResponse => describe(config.name, node, store, dbSizeBytes);
  const metrics = createServerMetrics((g) => {
    const s = node.status();
    g.term.set(s.term);
    g.isLeader.set(s.role === 'leader' ? 1 : 0);
    g.commitIndex.set(s.commitIndex);
    g.appliedIndex.set(s.appliedIndex);
    g.revision.set(store.revision);
    g.keys.set(store.keyCount);
    g.leases.set(store.leaseCount);
    g.watches.set(watches.size);
  });
  const ctx: ServerContext = {
    node,
    store,
    state,
    limits: KvDefaults,
    leases,
    watches,
    metrics,
    logger,
    authToken: config.authToken,
    maxRequestBytes: config.maxRequestBytes,
    forwardToLeader: (path, body) => leader.post(path, body),
    status,
    closing: () => closing,
  };
  const app = buildHttpApp(ctx, tls === undefined ? {} : { https: tls });
  let clientUrl: string;
  try {
    const address = await app.listen({ host: config.listenClient.host, port: config.listenClient.port });
    const port = new URL(address).port;
    clientUrl =
      config.advertiseClientUrl ??
      `${tls === undefined ? 'http' : 'https'}://${formatAddress(config.listenClient.host, Number(port))}`;
  } catch (error) {
    // Release everything started so far, or the process would linger without serving.
    closing = true;
    leaderless.stop();
    watches.close();
    leases.stop();
    settler.stop();
    leader.close();
    await app.close().catch(() => undefined);
    await node.stop();
    throw new SkeinError(
      'SKEIN_LISTEN_FAILED',
      `cannot listen for clients on ${config.listenClient.host}:${config.listenClient.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const chores = new MemberChores({
    node,
    store,
    clock,
    logger,
    name: config.name,
    clientUrl,
    peerAddress,
    join: config.join,
    authToken: config.authToken,
    autoCompactionRevisions: config.autoCompactionRevisions,
    onDataDirSize: () => {
      void dataDirSizeBytes(config.dataDir).then((bytes) => {
        dbSizeBytes = bytes;
      });
    },
  });
  node.on('leader', (leaderId, term) => {
    logger.info({ leader: leaderId, term }, leaderId === null ? 'no leader' : 'leader elected');
  });
  node.on('error', (error) => {
    logger.error({ err: error }, 'raft node failed');
  });
  logger.info({ name: config.name, clientUrl, peerAddress, dataDir: config.dataDir }, 'skein server started');

  let stopping: Promise<void> | null = null;
  const close = (reason = 'close'): Promise<void> => {
    stopping ??= (async () => {
      closing = true;
      chores.stop();
      leaderless.stop();
      watches.close();
      leases.stop();
      settler.stop();
      await app.close();
      await transferAndStop(
        node,
        logger,
        reason,
        Math.min(config.requestTimeoutMs, 2 * config.electionTicks * config.tickIntervalMs),
      );
      leader.close();
    })();
    return stopping;
  };
  return { name: config.name, clientUrl, peerAddress, node, store, state, status, close };
}

function describe(name: string, node: RaftNode, store: KvStore, dbSizeBytes: number): StatusResponse {
  const s = node.status();
  const published = new Map(store.members().map((m) => [m.id, m]));
  const members: MemberInfo[] = [];
  const add = (id: string, peerUrl: string, learner: boolean): void => {
    members.push({
      id,
      name: published.get(id)?.name ?? id,
      peerUrl,
      clientUrl: published.get(id)?.clientUrl ?? '',
      learner,
    });
  };
  for (const [id, address] of Object.entries(s.config.voters)) add(id, address, false);
  for (const [id, address] of Object.entries(s.config.learners)) add(id, address, true);
  return {
    id: s.id,
    name,
    leader: s.leaderId,
    term: s.term,
    revision: store.revision,
    compactRevision: store.compactRevision,
    raftIndex: s.commitIndex,
    raftAppliedIndex: s.appliedIndex,
    dbSizeBytes,
    keys: store.keyCount,
    leases: store.leaseCount,
    members,
    version: packageVersion,
  };
}

/**
 * A single-member cluster needs no shared secret, but the member may be joined by others later:
 * generate one, keep it in the data directory (mode 0600) and tell the operator where it is.
 */
async function singleMemberSecret(dataDir: string, logger: Logger): Promise<string> {
  const path = join(dataDir, 'cluster-secret');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    const secret = randomBytes(32).toString('hex');
    await writeFile(path, `${secret}\n`, { mode: 0o600 });
    logger.info(
      { path },
      'generated a cluster secret; members that join this cluster need it (--cluster-secret-file)',
    );
    return secret;
  }
}

async function readTls(
  config: ServerConfig,
): Promise<{ key: Buffer; cert: Buffer; ca?: Buffer } | undefined> {
  if (config.tls === undefined) return undefined;
  try {
    const [key, cert, ca] = await Promise.all([
      readFile(config.tls.keyFile),
      readFile(config.tls.certFile),
      config.tls.caFile === undefined ? undefined : readFile(config.tls.caFile),
    ]);
    return ca === undefined ? { key, cert } : { key, cert, ca };
  } catch (error) {
    throw new SkeinError('SKEIN_INVALID_CONFIG', `cannot read TLS files: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
