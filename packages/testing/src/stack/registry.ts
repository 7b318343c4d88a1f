import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureRegistryDistribution } from './downloads.js';
import { findFreePort, spawnServer, waitUntilReady } from './processes.js';
import type { ServiceStartContext, StartedService } from './service.js';

/** Path of Apicurio's Confluent-compatible API, the base URL the Confluent clients need. */
export const CCOMPAT_PATH = '/apis/ccompat/v7';

/**
 * Health probe: lists subjects through the Confluent-compatible API.
 *
 * @returns a short description such as `ccompat ok, 0 subject(s)`
 */
export async function checkRegistry(schemaRegistryUrl: string): Promise<string> {
  const response = await fetch(`${schemaRegistryUrl}/subjects`, {
    signal: AbortSignal.timeout(3_000),
  });
  if (!response.ok) throw new Error(`GET /subjects answered ${response.status}`);
  const subjects: unknown = await response.json();
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

  context.log(`registry: start Apicurio Registry on 127.0.0.1:${port}`);
  const managed = spawnServer({
    command: 'java',
    args: [
      ...config.registry.heapOpts,
      '-XX:+UseSerialGC',
      '-Djava.awt.headless=true',
      `-Djava.io.tmpdir=${dataDir}`,
      `-Dquarkus.http.port=${port}`,
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

  const schemaRegistryUrl = `http://127.0.0.1:${port}${CCOMPAT_PATH}`;
  await waitUntilReady(() => checkRegistry(schemaRegistryUrl), {
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
