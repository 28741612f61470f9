/**
 * A throwaway self-signed certificate for 127.0.0.1 (EC P-256, valid for a day), made with the
 * `openssl` command; null when openssl is not available, so a TLS test can skip with a reason.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSigned {
  readonly key: Buffer;
  readonly cert: Buffer;
}

export function selfSignedCert(): SelfSigned | { readonly unavailable: string } {
  const dir = mkdtempSync(join(tmpdir(), 'skein-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=skein-test',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } catch (error) {
    return { unavailable: `openssl is not available to generate a test certificate (${String(error)})` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
