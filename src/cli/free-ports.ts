import { createServer, type Server } from 'node:net';

/**
 * Where {@link freePorts} picks from: below Linux's default ephemeral range (32768–60999). A port
 * the kernel hands out for outgoing connections can be taken by any connect() between the moment
 * it is found free and the moment a member binds it; with many tests running at once that happened
 * (a member failed to start with EADDRINUSE in a CI run). Ports below the range are only ever taken
 * by an explicit bind.
 */
const LOWEST_PORT = 20_000;
const HIGHEST_PORT = 32_767;
/** Give up after this many taken candidates: the range is crowded, or binding fails for another reason. */
const MAX_ATTEMPTS = 1_000;

/**
 * `count` distinct TCP ports on 127.0.0.1 that were free a moment ago, for processes started next
 * (local clusters of the CLI, tests). Each is checked by binding it; all are held until every one
 * is found, so they are distinct. Another process can still bind one first (rare here, see
 * above); the member then fails to start with SKEIN_LISTEN_FAILED, loudly.
 */
export async function freePorts(count: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempt = 0; ports.length < count; attempt++) {
      if (attempt >= MAX_ATTEMPTS)
        throw new Error(`no free port found in ${LOWEST_PORT}..${HIGHEST_PORT} after ${MAX_ATTEMPTS} tries`);
      const port = LOWEST_PORT + Math.floor(Math.random() * (HIGHEST_PORT - LOWEST_PORT + 1));
      if (ports.includes(port)) continue;
      const server = await bound(port);
      if (server === null) continue;
      held.push(server);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** One free port (see {@link freePorts}). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/** A server listening on `port`, or null when the port is taken. */
function bound(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(null);
    });
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      resolve(server);
    });
  });
}
