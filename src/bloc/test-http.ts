import { request } from 'node:http';

/** One answer, raw: status, lower-case headers, body text. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/**
 * One HTTP request as a bloc client sends it: no body, the session header when given (an array
 * sends the header once per value), a fresh connection (no keep-alive pool left open by tests).
 */
export function blocRequest(
  baseUrl: string,
  method: string,
  path: string,
  session?: string | readonly string[],
): Promise<RawAnswer> {
  const headers: Record<string, string | string[]> = {};
  if (session !== undefined)
    headers['Bloc-Session-ID'] = typeof session === 'string' ? session : [...session];
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseUrl), { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET /index for `session`; returns the body text (and fails the test on a non-200). */
export async function getIndex(baseUrl: string, session: string): Promise<string> {
  const answer = await blocRequest(baseUrl, 'GET', '/index', session);
  if (answer.status !== 200) throw new Error(`GET /index for ${session}: ${answer.status} ${answer.body}`);
  return answer.body;
}

/**
 * Heartbeat every session every `everyMs` (as bloc clients do) until `done` holds for their bodies;
 * returns those bodies. The first round goes one session after the other, so new sessions join
 * in the order listed; later rounds are concurrent. Gives up after `maxMs`.
 */
export async function heartbeatUntil(
  baseUrl: string,
  sessions: readonly string[],
  done: (bodies: string[]) => boolean,
  { everyMs = 100, maxMs = 8_000 } = {},
): Promise<string[]> {
  const deadline = Date.now() + maxMs;
  let bodies: string[] = [];
  for (let round = 0; Date.now() < deadline; round++) {
    if (round === 0) {
      bodies = [];
      for (const s of sessions) bodies.push(await getIndex(baseUrl, s));
    } else {
      bodies = await Promise.all(sessions.map((s) => getIndex(baseUrl, s)));
    }
    if (done(bodies)) return bodies;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`not done within ${maxMs} ms; last answers: ${bodies.join(' | ')}`);
}

/** The SETTLED body bloc writes for `index` of `total`. */
export function settled(index: number, total: number): string {
  return `{"status": "SETTLED", "index": ${index}, "total": ${total}}`;
}

export const SETTLING = '{"status": "SETTLING"}';
