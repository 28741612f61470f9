import { isIP } from 'node:net';
import { SkeinError } from '../core/errors.ts';
import { TransportErrorCode } from './errors.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parse "host:port" or "[ipv6]:port". Throws SKEIN_INVALID_ARGUMENT with the offending text. */
export function parseAddress(address: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SkeinError(
      TransportErrorCode.InvalidArgument,
      `peer address "${address}" is not "host:port" (IPv6 as "[::1]:port") with a port in 1..65535`,
    );
  }
  return { host, port };
}

export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for 0.0.0.0 / :: — a listen host that means "every interface", not a dialable address. */
export function isUnspecifiedHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}
