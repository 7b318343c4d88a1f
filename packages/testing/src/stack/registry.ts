import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { join } from 'node:path';
import { ensureRegistryDistribution } from './downloads.js';
import { findFreePort, spawnServer, waitUntilReady } from './processes.js';
import type { ServiceStartContext, StartedService } from './service.js';

/** Path of Apicurio's Confluent-compatible API, the base URL the Confluent clients need. */
export const CCOMPAT_PATH = '/apis/ccompat/v7';

/**
 * GET over HTTPS with node:https: the global `fetch` cannot be given a CA. Without `ca` the
 * certificate is not checked (a liveness probe of a recorded stack, whose CA it may not know).
 */
function httpsGet(
  url: string,
  ca: string | undefined,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get(
      url,
      { timeout: 3_000, headers, ...(ca === undefined ? { rejectUnauthorized: false } : { ca }) },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

/** HTTP basic-auth credentials of the registry. */
export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * Health probe: lists subjects through the Confluent-compatible API.
 *
 * @param caFile - CA (PEM file) an HTTPS registry's certificate must chain to
 * @param credentials - basic auth; without them a registry that answers 401 counts as up
 *   (a liveness probe of a recorded stack, whose password it does not have)
 * @returns a short description such as `ccompat ok, 0 subject(s)`
 */
export async function checkRegistry(
  schemaRegistryUrl: string,
  caFile?: string,
  credentials?: RegistryCredentials,
): Promise<string> {
  const headers: Record<string, string> =
    credentials === undefined
      ? {}
      : {
          authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`,
        };
  let status: number;
  let subjects: unknown;
  if (schemaRegistryUrl.startsWith('https:')) {
    const ca = caFile === undefined ? undefined : await readFile(caFile, 'utf8');
    const answer = await httpsGet(`${schemaRegistryUrl}/subjects`, ca, headers);
    status = answer.status;
    subjects = status === 200 ? (JSON.parse(answer.body) as unknown) : undefined;
  } else {
    const response = await fetch(`${schemaRegistryUrl}/subjects`, {
      headers,
      signal: AbortSignal.timeout(3_000),
    });
    status = response.status;
    subjects = response.ok ? await response.json() : undefined;
  }
  if (status === 401 && credentials === undefined) return 'ccompat ok, requires authentication';
  if (status !== 200) throw new Error(`GET /subjects answered ${status}`);
  if (!Array.isArray(subjects)) throw new Error('GET /subjects did not answer a JSON array');
  return `ccompat ok, ${subjects.length} subject(s)`;
}

/**
 * Starts Apicurio Registry with its default in-memory (H2) storage: nothing to set up,
 * and a fresh registry per stack is what tests want.
 */
export async function startRegistry(
  context: ServiceStartContext,
): Promise<StartedService<{ readonly schemaRegistryUrl: string }>> {
  const { config, runDir } = context;
  const distribution = await ensureRegistryDistribution(config, context.log);
  const dataDir = join(runDir, 'registry');
  const logFile = join(runDir, 'logs', 'registry.log');
  const port = await findFreePort();
  await mkdir(dataDir);
  const { tls, basicAuth } = config.registry;
  if (basicAuth !== undefined) {
    // Quarkus' embedded users (a properties realm built into Apicurio) with HTTP basic
    // authentication on the API. In config/application.properties of the working directory,
    // which Quarkus reads at start, so the password is not on a command line.
    await mkdir(join(dataDir, 'config'));
    await writeFile(
      join(dataDir, 'config', 'application.properties'),
      [
        'quarkus.http.auth.basic=true',
        'quarkus.security.users.embedded.plain-text=true',
        `quarkus.security.users.embedded.users.${basicAuth.username}=${basicAuth.password}`,
        `quarkus.security.users.embedded.roles.${basicAuth.username}=sr-admin`,
        'quarkus.http.auth.permission.api.paths=/apis/*',
        'quarkus.http.auth.permission.api.policy=authenticated',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  }
  // HTTPS only: Quarkus serves TLS on `ssl-port` and, with insecure requests disabled,
  // opens no plaintext port at all.
  const httpFlags =
    tls === undefined
      ? [`-Dquarkus.http.port=${port}`]
      : [
          `-Dquarkus.http.ssl-port=${port}`,
          `-Dquarkus.http.port=${await findFreePort()}`,
          '-Dquarkus.http.insecure-requests=disabled',
          `-Dquarkus.http.ssl.certificate.files=${tls.certFile}`,
          `-Dquarkus.http.ssl.certificate.key-files=${tls.keyFile}`,
        ];

  context.log(
    `registry: start Apicurio Registry on ${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
  );
  const managed = spawnServer({
    command: 'java',
    args: [
      ...config.registry.heapOpts,
      '-XX:+UseSerialGC',
      '-Djava.awt.headless=true',
      `-Djava.io.tmpdir=${dataDir}`,
      ...httpFlags,
      '-Dquarkus.http.host=127.0.0.1',
      // Quarkus' separate management port is fixed (9000) and would collide between stacks.
      '-Dquarkus.management.enabled=false',
      '-Dquarkus.log.console.color=false',
      '-jar',
      distribution.runnerJar,
    ],
    logFile,
    cwd: dataDir,
  });
  context.track(managed, 'SIGTERM');

  const schemaRegistryUrl = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}${CCOMPAT_PATH}`;
  await waitUntilReady(() => checkRegistry(schemaRegistryUrl, tls?.caFile, basicAuth), {
    what: 'Apicurio Registry',
    timeoutMs: config.startTimeoutMs,
    process: managed,
    logFile,
  });
  return {
    connection: { schemaRegistryUrl },
    state: {
      process: managed,
      logFile,
      dataDir,
      stopSignal: 'SIGTERM',
      ports: [port],
      version: config.registry.apicurioVersion,
    },
  };
}
