import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type SkeinClient } from '../client/skein-client.ts';
import { silentLogger } from '../core/log.ts';
import { resolveServerConfig, type ServerSettings } from './config.ts';
import { startServer, type SkeinServer } from './server.ts';

/** A single-member server on free loopback ports with a fresh data directory, for tests. */
export async function startTestServer(
  settings: ServerSettings = {},
  dataDir = mkdtempSync(join(tmpdir(), 'skein-server-')),
): Promise<{ server: SkeinServer; dataDir: string; stop: (keepData?: boolean) => Promise<void> }> {
  const config = resolveServerConfig(
    { listenClient: '127.0.0.1:0', listenPeer: '127.0.0.1:0', dataDir, tickMs: '20', ...settings },
    {},
  );
  const server = await startServer(config, { logger: silentLogger });
  // Ready once this member leads and has published its client URL.
  for (let i = 0; i < 500 && server.status().members.every((m) => m.clientUrl === ''); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    server,
    dataDir,
    stop: async (keepData = false) => {
      await server.close();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** {@link startTestServer} plus a connected client; `stop` closes the client, then the server. */
export async function startTestClient(settings: ServerSettings = {}): Promise<{
  server: SkeinServer;
  url: string;
  client: SkeinClient;
  stop: () => Promise<void>;
}> {
  const started = await startTestServer(settings);
  const url = started.server.clientUrl;
  const client = await connect({ endpoints: [url] });
  return {
    server: started.server,
    url,
    client,
    stop: async () => {
      await client.close();
      await started.stop();
    },
  };
}

/** POST JSON (or raw text) and return the status and parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}> {
  const answer = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await answer.text();
  return { status: answer.status, body: JSON.parse(text) as { error?: { code: string; message: string } } };
}
