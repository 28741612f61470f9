import type { StatusResponse } from '../kv/types.ts';
import type { Endpoints } from './http-endpoints.ts';

/**
 * Which member to prefer: ask every endpoint's `GET /v1/status` at once, so that one member that
 * stopped answering (paused, cut off) holds nobody up, and resolve with
 * - at once, the client URL of the first member that answers that it leads itself;
 * - otherwise, once every member answered or `timeoutMs` passed, the first member that answered,
 *   or null when none did.
 *
 * A leader that only others name is not taken: until they notice its loss (an election timeout),
 * followers still name a leader that stopped answering, and a request sent there would wait out
 * its whole deadline. A follower that answers forwards writes to the leader it knows and names it
 * in its answers' skein-leader header, so the client still reaches the leader in one more step.
 */
export function discoverLeader(endpoints: Endpoints, timeoutMs: number): Promise<string | null> {
  const urls = endpoints.urls; // the preferred one among them: prefer() adds what it is given
  return new Promise((resolve) => {
    let pending = urls.length;
    let settled = false;
    let firstAnswered: string | null = null;
    const settle = (url: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(url);
    };
    const timer = setTimeout(() => {
      settle(firstAnswered);
    }, timeoutMs);
    for (const url of urls) {
      void endpoints
        .send(url, 'GET', '/v1/status', undefined, timeoutMs)
        .then(
          (answer) => (answer.status === 200 ? (answer.body as StatusResponse) : null),
          () => null,
        )
        .then((status) => {
          if (status !== null) {
            firstAnswered ??= url;
            if (status.leader === status.id) {
              const ownUrl = status.members.find((m) => m.id === status.id)?.clientUrl ?? '';
              settle(ownUrl !== '' ? ownUrl : url);
            }
          }
          if (--pending === 0) settle(firstAnswered);
        });
    }
  });
}
