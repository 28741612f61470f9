/**
 * The two short-lived gRPC streams the etcd backend needs: one keep-alive round trip, and a probe
 * for the compaction point (etcd's range error does not carry it; a watch below it does).
 */
import type { ILeaseKeepAliveResponse, IWatchResponse, LeaseClient } from 'etcd3';
import { SkeinError } from '../core/errors.ts';
import { int64ToNumber } from './etcd-codec.ts';
import { EtcdClientErrorCode } from './etcd-errors.ts';
import { closeStream, type WatchStream } from './etcd-watch.ts';

/** Renew lease `etcdId` once: open a keep-alive stream, send one request, take one answer. */
export async function keepAliveOnce(
  leases: LeaseClient,
  etcdId: string,
  timeoutMs: number,
): Promise<ILeaseKeepAliveResponse> {
  const stream = await leases.leaseKeepAlive();
  try {
    return await new Promise<ILeaseKeepAliveResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new SkeinError(
            EtcdClientErrorCode.Timeout,
            `etcd did not answer a keep-alive in ${String(timeoutMs)} ms`,
          ),
        );
      }, timeoutMs);
      stream.on('data', (response) => {
        clearTimeout(timer);
        resolve(response);
      });
      stream.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      stream.on('end', () => {
        clearTimeout(timer);
        reject(new SkeinError(EtcdClientErrorCode.Unavailable, 'etcd ended the keep-alive stream'));
      });
      stream.write({ ID: etcdId });
    });
  } finally {
    closeStream(stream);
  }
}

/**
 * The revision etcd's history starts at, found by watching from `revision` (below it): etcd cancels
 * such a watch and names the compaction point. -1 when etcd does not answer within `timeoutMs`.
 */
export async function probeCompactRevision(
  openStream: () => Promise<WatchStream>,
  revision: number,
  timeoutMs: number,
): Promise<number> {
  let stream: WatchStream;
  try {
    stream = await openStream();
  } catch {
    return -1;
  }
  try {
    return await new Promise<number>((resolve) => {
      const timer = setTimeout(() => {
        resolve(-1);
      }, timeoutMs);
      const done = (value: number): void => {
        clearTimeout(timer);
        resolve(value);
      };
      stream.on('data', (response: IWatchResponse) => {
        const compactRevision = int64ToNumber(response.compact_revision, 'compact_revision');
        if (compactRevision > 0) done(compactRevision);
        else if (response.canceled) done(-1);
      });
      stream.on('error', () => {
        done(-1);
      });
      stream.write({ create_request: { key: Buffer.from([0]), start_revision: Math.max(1, revision) } });
    });
  } finally {
    closeStream(stream);
  }
}
