import { join } from 'node:path';
import type { StackConfigOptions, StackService } from './config.js';
import { resolveStackConfig } from './config.js';
import { StackError } from './errors.js';
import { restartKafka } from './kafka.js';
import {
  checkPostgres,
  findPostgresBinDir,
  lookupRunAs,
  pgCtlStart,
  postgresEnv,
  postgresUrl,
} from './postgres.js';
import {
  isProcessAlive,
  runCommand,
  signalProcess,
  waitUntilExited,
  waitUntilReady,
} from './processes.js';
import type { ServiceState, StackState } from './state.js';

/*
 * Stopping, killing, freezing and restarting the servers of a launcher-started stack while
 * keeping their ports and data, for fault tests. Each restart returns the updated state
 * (the server has a new pid); write it back with `writeState` if a state file records it.
 */

const serviceOf = (state: StackState, service: StackService): ServiceState => {
  const recorded = state.services[service];
  if (recorded === undefined) {
    throw new StackError(
      'STACK_NOT_PROVIDED',
      `the ${service} server was not started by this launcher (stack ${state.name}); only a launcher-started server can be stopped or restarted`,
    );
  }
  return recorded;
};

const withService = (
  state: StackState,
  service: StackService,
  changes: Partial<ServiceState>,
): StackState => ({
  ...state,
  services: { ...state.services, [service]: { ...serviceOf(state, service), ...changes } },
});

/** How {@link stopPostgresServer} shuts PostgreSQL down (`pg_ctl stop -m <mode>`). */
export type PostgresStopMode = 'immediate' | 'fast';

/**
 * `pg_ctl stop -m <mode>`: `immediate` aborts every backend without a checkpoint (a crash as
 * far as clients and the WAL are concerned; the next start runs crash recovery), `fast`
 * rolls back open transactions and checkpoints. Returns when the postmaster is gone.
 */
export async function stopPostgresServer(
  state: StackState,
  mode: PostgresStopMode,
  options: StackConfigOptions = {},
): Promise<void> {
  const config = resolveStackConfig(options);
  const recorded = serviceOf(state, 'postgres');
  const runAs = await lookupRunAs(config.postgres.osUserWhenRoot);
  await runCommand(
    join(findPostgresBinDir(config.postgres), 'pg_ctl'),
    ['stop', '--pgdata', recorded.dataDir, '--mode', mode, '--wait', '--silent'],
    { env: postgresEnv(runAs), runAs, timeoutMs: config.stopTimeoutMs, cwd: state.runDir },
  );
  if (!(await waitUntilExited(recorded.process, config.stopTimeoutMs))) {
    throw new StackError(
      'STACK_STOP_FAILED',
      `PostgreSQL (pid ${recorded.process.pid}) still runs after pg_ctl stop -m ${mode}`,
    );
  }
}

/**
 * Starts the stack's PostgreSQL again on its data dir and port (running crash recovery
 * after an immediate stop) and waits until it answers SQL.
 */
export async function startPostgresServer(
  state: StackState,
  options: StackConfigOptions = {},
): Promise<StackState> {
  const config = resolveStackConfig(options);
  const recorded = serviceOf(state, 'postgres');
  if (isProcessAlive(recorded.process)) return state;
  const runAs = await lookupRunAs(config.postgres.osUserWhenRoot);
  const managed = await pgCtlStart({
    binDir: findPostgresBinDir(config.postgres),
    dataDir: recorded.dataDir,
    logFile: recorded.logFile,
    env: postgresEnv(runAs),
    runAs,
    timeoutMs: config.startTimeoutMs,
    runDir: state.runDir,
  });
  const port = recorded.ports[0];
  if (port === undefined) throw new StackError('STACK_START_FAILED', 'no PostgreSQL port recorded');
  await waitUntilReady(() => checkPostgres(postgresUrl(config.postgres, port, 'postgres')), {
    what: 'PostgreSQL',
    timeoutMs: config.startTimeoutMs,
    process: managed,
    logFile: recorded.logFile,
  });
  return withService(state, 'postgres', { process: managed });
}

/** SIGKILLs the stack's Kafka broker (no shutdown, no flush) and waits until it is gone. */
export async function killKafkaServer(state: StackState): Promise<void> {
  const recorded = serviceOf(state, 'kafka');
  // A frozen process must be thawed to die promptly on some kernels; SIGCONT is harmless.
  signalProcess(recorded.process, 'SIGKILL');
  signalProcess(recorded.process, 'SIGCONT');
  if (!(await waitUntilExited(recorded.process, 10_000))) {
    throw new StackError(
      'STACK_STOP_FAILED',
      `Kafka (pid ${recorded.process.pid}) survived SIGKILL`,
    );
  }
}

/**
 * Starts the stack's Kafka broker again with its properties file and data dir (same ports,
 * topics, offsets and transaction state) and waits until it answers metadata requests.
 */
export async function startKafkaServer(
  state: StackState,
  options: StackConfigOptions & { readonly log?: (message: string) => void } = {},
): Promise<StackState> {
  const config = resolveStackConfig(options);
  const recorded = serviceOf(state, 'kafka');
  if (isProcessAlive(recorded.process)) return state;
  const brokerPort = recorded.ports[0];
  if (brokerPort === undefined)
    throw new StackError('STACK_START_FAILED', 'no Kafka port recorded');
  const managed = await restartKafka(
    config,
    state.runDir,
    [`127.0.0.1:${brokerPort}`],
    options.log ?? (() => undefined),
  );
  return withService(state, 'kafka', { process: managed });
}

/**
 * SIGSTOPs a server (its whole process group: every PostgreSQL backend, the JVM): it keeps
 * its sockets open and answers nothing until {@link thawServer}.
 */
export function freezeServer(state: StackState, service: StackService): void {
  signalProcess(serviceOf(state, service).process, 'SIGSTOP');
}

/** SIGCONTs a server frozen by {@link freezeServer}. */
export function thawServer(state: StackState, service: StackService): void {
  signalProcess(serviceOf(state, service).process, 'SIGCONT');
}
