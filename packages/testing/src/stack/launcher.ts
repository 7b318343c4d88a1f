import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { StackConfig, StackConfigOptions, StackService } from './config.js';
import { resolveStackConfig, STACK_SERVICES } from './config.js';
import { isStackError, StackError } from './errors.js';
import { processesOf, startKafkaCluster } from './cluster.js';
import { checkKafka, startKafka } from './kafka.js';
import { checkPostgres, startPostgres } from './postgres.js';
import type { ManagedProcess } from './processes.js';
import { isProcessAlive, stopProcess, withLockFile } from './processes.js';
import { checkRegistry, startRegistry } from './registry.js';
import type { ServiceStartContext, StartedService } from './service.js';
import type { ServiceState, StackConnection, StackState } from './state.js';
import {
  listStateFiles,
  readState,
  removeState,
  stateDir,
  stateFile,
  writeState,
} from './state.js';

/** Prefix of every run directory, checked before `down` deletes one. */
const RUN_DIR_PREFIX = 'tributary-stack-';

/** Options of {@link startStack} and the other launcher entry points. */
export interface StartStackOptions extends StackConfigOptions {
  /** Stack name: `default` for the CLI, `test-<pid>` for a test run's own stack. Default: `default`. */
  readonly name?: string;
  /** Progress messages. Default: none. */
  readonly log?: (message: string) => void;
  /** Aborting stops whatever was already started and makes the start reject. */
  readonly signal?: AbortSignal;
}

const silent = (): void => undefined;

/**
 * Starts the configured servers in parallel in a fresh run directory and waits until each
 * is ready. On any failure, stops what was started and deletes the run directory. The
 * caller decides where to record the returned state ({@link upStack} writes it).
 */
export async function startStack(options: StartStackOptions = {}): Promise<StackState> {
  const config = resolveStackConfig(options);
  const log = options.log ?? silent;
  const began = performance.now();
  await mkdir(config.runBaseDir, { recursive: true });
  const runDir = await mkdtemp(join(config.runBaseDir, RUN_DIR_PREFIX));
  // mkdtemp makes it 0700; PostgreSQL runs as another OS user and must traverse it.
  await chmod(runDir, 0o755);
  await mkdir(join(runDir, 'logs'));

  const tracked: { process: ManagedProcess; stopSignal: NodeJS.Signals }[] = [];
  const cleanUp = async (): Promise<void> => {
    await Promise.allSettled(
      tracked.map(({ process, stopSignal }) =>
        stopProcess(process, config.stopTimeoutMs, stopSignal),
      ),
    );
    await rm(runDir, { recursive: true, force: true });
  };
  const onAbort = (): void => void cleanUp();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const context: ServiceStartContext = {
    config,
    runDir,
    log,
    track: (process, stopSignal) => {
      tracked.push({ process, stopSignal });
      // Started after an abort: stop it right away instead of leaking it.
      if (options.signal?.aborted === true)
        void stopProcess(process, config.stopTimeoutMs, stopSignal);
    },
  };
  const timed = async <C>(
    service: StackService,
    start: (startContext: ServiceStartContext) => Promise<StartedService<C>>,
  ): Promise<{ service: StackService; state: ServiceState; connection: C }> => {
    const started = await start(context);
    const readySeconds = Math.round((performance.now() - began) / 100) / 10;
    log(`${service}: ready after ${readySeconds} s`);
    return { service, connection: started.connection, state: { ...started.state, readySeconds } };
  };
  const starters = {
    postgres: () => timed('postgres', startPostgres),
    kafka: () => timed('kafka', config.kafka.brokers > 1 ? startKafkaCluster : startKafka),
    registry: () => timed('registry', startRegistry),
  } satisfies Record<StackService, unknown>;

  const results = await Promise.allSettled(config.services.map((service) => starters[service]()));
  options.signal?.removeEventListener('abort', onAbort);
  const failures: unknown[] = results.flatMap((result) =>
    result.status === 'rejected' ? [result.reason as unknown] : [],
  );
  if (failures.length > 0 || options.signal?.aborted === true) {
    await cleanUp();
    if (options.signal?.aborted === true) {
      // The servers died because the abort stopped them; their errors would only mislead.
      throw new StackError('STACK_START_FAILED', 'start aborted; stopped what had started', true);
    }
    const first: unknown = failures[0];
    if (failures.length <= 1 && isStackError(first)) throw first;
    throw new StackError(
      isStackError(first) ? first.code : 'STACK_START_FAILED',
      failures
        .map((failure) => (failure instanceof Error ? failure.message : String(failure)))
        .join('\n'),
      false,
      { cause: first },
    );
  }

  const services: Partial<Record<StackService, ServiceState>> = {};
  const connection: { -readonly [K in keyof StackConnection]?: StackConnection[K] } = {};
  for (const result of results) {
    if (result.status !== 'fulfilled') continue;
    services[result.value.service] = result.value.state;
    Object.assign(connection, result.value.connection);
  }
  return {
    formatVersion: 1,
    name: options.name ?? 'default',
    ownerPid: process.pid,
    startedAt: new Date().toISOString(),
    startSeconds: Math.round((performance.now() - began) / 100) / 10,
    runDir,
    ...connection,
    services,
  };
}

/**
 * Stops the processes recorded in `state` (graceful signal, SIGKILL after the timeout),
 * waits for them to exit and deletes the run directory. Never touches anything else.
 */
export async function stopStack(
  state: StackState,
  options: StackConfigOptions = {},
): Promise<void> {
  const config = resolveStackConfig(options);
  const services = Object.values(state.services);
  const results = await Promise.allSettled(
    services.flatMap((service) =>
      processesOf(service).map((each) =>
        stopProcess(each, config.stopTimeoutMs, service.stopSignal),
      ),
    ),
  );
  const failure = results.find((result) => result.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  // Guard against a corrupted state file: only ever delete one of our own run dirs.
  if (basename(state.runDir).startsWith(RUN_DIR_PREFIX)) {
    await rm(state.runDir, { recursive: true, force: true });
  }
}

/** Health of one server, as `status` prints it. */
export interface ServiceHealth {
  readonly service: StackService;
  readonly healthy: boolean;
  /** What the probe saw, or why it failed. */
  readonly detail: string;
  /** Where to reach it (URL or brokers). */
  readonly endpoint: string | undefined;
  /** Present for servers the launcher started. */
  readonly pid?: number;
  readonly processAlive?: boolean;
  readonly logFile?: string;
}

const endpointOf = (
  service: StackService,
  connection: Partial<StackConnection>,
): string | undefined => {
  switch (service) {
    case 'postgres':
      return connection.databaseUrl;
    case 'kafka':
      return connection.kafkaBrokers?.join(',');
    case 'registry':
      return connection.schemaRegistryUrl;
  }
};

async function probe(service: StackService, connection: Partial<StackConnection>): Promise<string> {
  switch (service) {
    case 'postgres':
      if (connection.databaseUrl === undefined) throw new Error('no database URL');
      return checkPostgres(connection.databaseUrl);
    case 'kafka':
      if (connection.kafkaBrokers === undefined) throw new Error('no brokers');
      return checkKafka(connection.kafkaBrokers);
    case 'registry':
      if (connection.schemaRegistryUrl === undefined) throw new Error('no registry URL');
      return checkRegistry(connection.schemaRegistryUrl);
  }
}

/**
 * Probes each server with a real request (SQL query, kafkajs metadata, registry GET).
 * For a launcher-started stack, pass its state so process liveness is reported too.
 */
export async function checkStackHealth(
  target: StackState | Partial<StackConnection>,
  services: readonly StackService[] = STACK_SERVICES,
): Promise<ServiceHealth[]> {
  const state = 'formatVersion' in target ? target : undefined;
  const wanted =
    state === undefined ? services : services.filter((s) => state.services[s] !== undefined);
  return Promise.all(
    wanted.map(async (service): Promise<ServiceHealth> => {
      const recorded = state?.services[service];
      const processInfo =
        recorded === undefined
          ? {}
          : {
              pid: recorded.process.pid,
              processAlive: processesOf(recorded).every(isProcessAlive),
              logFile: recorded.logFile,
            };
      const base = { service, endpoint: endpointOf(service, target), ...processInfo };
      if (processInfo.processAlive === false)
        return { ...base, healthy: false, detail: 'process not running' };
      try {
        return { ...base, healthy: true, detail: await probe(service, target) };
      } catch (error) {
        return {
          ...base,
          healthy: false,
          detail: error instanceof Error ? error.message : String(error),
        };
      }
    }),
  );
}

/** Result of {@link upStack}. */
export interface UpResult {
  readonly state: StackState;
  /** The state file it is recorded in. */
  readonly stateFile: string;
  /** True if a healthy stack was already running and nothing was started. */
  readonly reused: boolean;
}

const lockFile = (config: StackConfig): string => join(stateDir(config.repoRoot), 'stack.lock');

/**
 * `stack:up`: reuses the recorded stack if every server is healthy; otherwise stops its
 * leftovers and starts a fresh one. A lock makes concurrent calls produce one stack.
 */
export async function upStack(options: StartStackOptions = {}): Promise<UpResult> {
  const config = resolveStackConfig(options);
  const log = options.log ?? silent;
  const file = stateFile(config.repoRoot, options.name ?? 'default');
  await mkdir(stateDir(config.repoRoot), { recursive: true });
  return withLockFile(
    lockFile(config),
    config.downloadTimeoutMs + config.startTimeoutMs,
    async () => {
      const existing = await readState(file);
      if (existing !== undefined) {
        const health = await checkStackHealth(existing);
        if (health.every((entry) => entry.healthy))
          return { state: existing, stateFile: file, reused: true };
        log(`stack in ${file} is not healthy (${describeUnhealthy(health)}); replacing it`);
        await stopStack(existing, options);
        await removeState(file);
      }
      const state = await startStack(options);
      await writeState(file, state);
      return { state, stateFile: file, reused: false };
    },
  );
}

const describeUnhealthy = (health: readonly ServiceHealth[]): string =>
  health
    .filter((entry) => !entry.healthy)
    .map((entry) => `${entry.service}: ${entry.detail}`)
    .join('; ');

/** Result of {@link downStack}: which state files were stopped and removed. */
export interface DownResult {
  readonly stopped: readonly string[];
}

/**
 * `stack:down`: stops the CLI's stack and any stack a test run left behind (its owner
 * process no longer runs), waits for the processes to exit and deletes their run dirs.
 * A stack owned by a running test run is left alone.
 */
export async function downStack(options: StartStackOptions = {}): Promise<DownResult> {
  const config = resolveStackConfig(options);
  const log = options.log ?? silent;
  const stopped: string[] = [];
  await mkdir(stateDir(config.repoRoot), { recursive: true });
  await withLockFile(lockFile(config), config.startTimeoutMs, async () => {
    for (const file of await listStateFiles(config.repoRoot)) {
      const state = await readState(file);
      if (state === undefined) continue;
      const orphan = !isProcessAlive({ pid: state.ownerPid, startTime: undefined });
      if (state.name !== 'default' && !orphan) {
        log(`leaving ${file}: its test run (pid ${state.ownerPid}) is still running`);
        continue;
      }
      log(`stopping ${state.name} stack (${file})`);
      await stopStack(state, options);
      await removeState(file);
      stopped.push(file);
    }
  });
  return { stopped };
}

/** One recorded stack and the health of its servers. */
export interface StackStatus {
  readonly stateFile: string;
  readonly state: StackState;
  readonly health: readonly ServiceHealth[];
}

/** `stack:status`: health of every recorded stack. */
export async function stackStatus(options: StackConfigOptions = {}): Promise<StackStatus[]> {
  const config = resolveStackConfig(options);
  const statuses: StackStatus[] = [];
  for (const file of await listStateFiles(config.repoRoot)) {
    const state = await readState(file);
    if (state !== undefined)
      statuses.push({ stateFile: file, state, health: await checkStackHealth(state) });
  }
  return statuses;
}

/** The connection part of a state, for `provide()` and environment variables. */
export function connectionOf(state: Partial<StackConnection>): Partial<StackConnection> {
  return {
    ...(state.databaseUrl === undefined ? {} : { databaseUrl: state.databaseUrl }),
    ...(state.kafkaBrokers === undefined ? {} : { kafkaBrokers: state.kafkaBrokers }),
    ...(state.schemaRegistryUrl === undefined
      ? {}
      : { schemaRegistryUrl: state.schemaRegistryUrl }),
  };
}

/** `export` line for a shell: `DATABASE_URL`, `KAFKA_BROKERS`, `SCHEMA_REGISTRY_URL`. */
export function exportLine(connection: Partial<StackConnection>): string {
  const pairs = [
    ['DATABASE_URL', connection.databaseUrl],
    ['KAFKA_BROKERS', connection.kafkaBrokers?.join(',')],
    ['SCHEMA_REGISTRY_URL', connection.schemaRegistryUrl],
  ].filter((pair): pair is [string, string] => pair[1] !== undefined);
  return `export ${pairs.map(([key, value]) => `${key}='${value}'`).join(' ')}`;
}
