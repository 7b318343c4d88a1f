/**
 * Certificates of the secured stack, made with openssl: a stack CA, a server certificate
 * for `localhost` and `127.0.0.1` signed by it (PostgreSQL, the Kafka SASL_SSL and MTLS
 * listeners and the registry use the same one), client certificates whose CN is a role name,
 * and a second, unrelated CA that tests use as the "unknown CA". EC P-256
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
  /**
   * Client certificates (mutual TLS) signed by the stack CA, one per name in
   * {@link STACK_CLIENT_CERTIFICATE_NAMES}: CN = the role / Kafka user name.
   */
  readonly clients: Readonly<Record<StackClientCertificateName, ClientCertificate>>;
}

/** A client certificate and its key (PKCS#8 PEM, unencrypted). */
export interface ClientCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

/** The roles that get a client certificate: the CN, so PostgreSQL and Kafka ACLs know them. */
export const STACK_CLIENT_CERTIFICATE_NAMES = [
  'tributary_capture',
  'tributary_projections',
] as const;

/** A name of {@link STACK_CLIENT_CERTIFICATE_NAMES}. */
export type StackClientCertificateName = (typeof STACK_CLIENT_CERTIFICATE_NAMES)[number];

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
  const request = (name: string, subject: string): Promise<string> =>
    openssl([
      'req',
      '-new',
      ...EC_KEY,
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.csr`),
      '-subj',
      subject,
    ]);
  // Signed one after the other: each `x509 -req` updates the CA's serial file.
  const sign = async (name: string, extensions: string): Promise<void> => {
    await writeFile(path(`${name}.ext`), extensions);
    await openssl([
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path('ca.pem'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-out',
      path(`${name}.pem`),
      '-days',
      '7',
      '-extfile',
      path(`${name}.ext`),
    ]);
  };
  await Promise.all([
    ca('ca', '/CN=Tributary stack CA'),
    ca('other-ca', '/CN=Some other CA'),
    request('server', '/CN=localhost'),
    ...STACK_CLIENT_CERTIFICATE_NAMES.map((name) => request(name, `/CN=${name}`)),
  ]);
  await sign('server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  for (const name of STACK_CLIENT_CERTIFICATE_NAMES) {
    await sign(name, 'extendedKeyUsage=clientAuth\n');
  }
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
    clients: Object.fromEntries(
      STACK_CLIENT_CERTIFICATE_NAMES.map((name) => [
        name,
        { certFile: path(`${name}.pem`), keyFile: path(`${name}.key`) },
      ]),
    ) as Record<StackClientCertificateName, ClientCertificate>,
  };
}
