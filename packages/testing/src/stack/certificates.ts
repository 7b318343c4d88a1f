/**
 * Certificates of the secured stack, made with openssl: a stack CA, a server certificate
 * for `localhost` and `127.0.0.1` signed by it (PostgreSQL and the Kafka SASL_SSL listener
 * use the same one), and a second, unrelated CA that tests use as the "unknown CA". EC P-256
 * keys in PKCS#8 PEM: generated in milliseconds, and Kafka reads them as a PEM keystore.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './processes.js';

/** Paths of the generated files. */
export interface StackCertificates {
  readonly dir: string;
  /** The stack CA (PEM): what clients trust. */
  readonly caFile: string;
  /** Server certificate (PEM), SAN `DNS:localhost, IP:127.0.0.1`. */
  readonly serverCertFile: string;
  /** Its private key (PKCS#8 PEM, unencrypted). */
  readonly serverKeyFile: string;
  /** Key and certificate in one file: Kafka's PEM keystore. */
  readonly serverKeystoreFile: string;
  /** A CA that signed nothing the stack serves. */
  readonly otherCaFile: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Creates (replacing) the certificates in `dir`. */
export async function generateStackCertificates(dir: string): Promise<StackCertificates> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const path = (name: string): string => join(dir, name);
  const openssl = (args: readonly string[]): Promise<string> =>
    runCommand('openssl', args, { timeoutMs: 30_000, cwd: dir });
  const ca = async (name: string, subject: string): Promise<void> => {
    await openssl([
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.pem`),
      '-days',
      '7',
      '-subj',
      subject,
    ]);
  };
  await Promise.all([
    ca('ca', '/CN=Tributary stack CA'),
    ca('other-ca', '/CN=Some other CA'),
    openssl([
      'req',
      '-new',
      ...EC_KEY,
      '-keyout',
      path('server.key'),
      '-out',
      path('server.csr'),
      '-subj',
      '/CN=localhost',
    ]),
  ]);
  await writeFile(
    path('server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-out',
    path('server.pem'),
    '-days',
    '7',
    '-extfile',
    path('server.ext'),
  ]);
  const keystore = path('server-keystore.pem');
  await writeFile(
    keystore,
    `${await readFile(path('server.key'), 'utf8')}${await readFile(path('server.pem'), 'utf8')}`,
    { mode: 0o644 },
  );
  return {
    dir,
    caFile: path('ca.pem'),
    serverCertFile: path('server.pem'),
    serverKeyFile: path('server.key'),
    serverKeystoreFile: keystore,
    otherCaFile: path('other-ca.pem'),
  };
}
