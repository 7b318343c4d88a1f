/**
 * vitest `globalSetup` shared by every workspace project (wired in `vitest.shared.ts`).
 *
 * - Does nothing unless this run selected `*.int.test.ts` / `*.e2e.test.ts` files of the
 *   project, so `npm run test:unit` never starts servers.
 * - One stack per test run, however many projects need it: the first project's setup
 *   acquires it, the others share it through `globalThis` (all global setups run in the
 *   vitest main process), and the last teardown releases it.
 * - Servers given by `DATABASE_URL` / `KAFKA_BROKERS` / `SCHEMA_REGISTRY_URL` are used as
 *   they are; a healthy `npm run stack:up` stack is reused and left running; only what is
 *   still missing is started, and stopped again at the end of the run.
 */
import { sep } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { StackService } from './config.js';
import { EXTERNAL_SERVER_ENV, resolveStackConfig, STACK_SERVICES } from './config.js';
import { PROVIDED_STACK_KEY } from './integration-env.js';
import { checkStackHealth, startStack, stopStack } from './launcher.js';
import type { StackConnection, StackState } from './state.js';
import { readState, removeState, stateFile, writeState } from './state.js';

/** Test files that need the real stack. */
const NEEDS_STACK = /\.(int|e2e)\.test\.[cm]?[jt]sx?$/;

interface SharedStack {
  connection: Promise<StackConnection>;
  users: number;
  release: () => Promise<void>;
}

const SHARED = Symbol.for('@tributary/testing:vitest-stack');
type GlobalWithStack = typeof globalThis & { [SHARED]?: SharedStack };

const log = (message: string): void => {
  process.stderr.write(`[tributary stack] ${message}\n`);
};

/**
 * Whether this project has selected test files that need the stack. Uses vitest's state
 * (the files of the run are collected before global setups run); if that experimental API
 * is missing, assumes yes rather than letting integration tests fail. `TRIBUTARY_STACK`
 * may force `always` or `never`.
 */
function projectNeedsStack(project: TestProject): boolean {
  const mode = process.env['TRIBUTARY_STACK'];
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  // `state.getPaths()` lists the files of the run; vitest records them before it runs the
  // global setups (Vitest.runFiles → TestRun.start → StateManager.collectPaths).
  const state = (project.vitest as { state?: { getPaths?: () => string[] } }).state;
  if (typeof state?.getPaths !== 'function') return true;
  const root = project.config.root.endsWith(sep)
    ? project.config.root
    : `${project.config.root}${sep}`;
  return state.getPaths().some((file) => file.startsWith(root) && NEEDS_STACK.test(file));
}

/** Connection parts supplied through the environment, and which services are still missing. */
function fromEnvironment(): { given: Partial<StackConnection>; missing: StackService[] } {
  const env = process.env;
  const given: { -readonly [K in keyof StackConnection]?: StackConnection[K] } = {};
  const databaseUrl = env[EXTERNAL_SERVER_ENV.postgres];
  const brokers = env[EXTERNAL_SERVER_ENV.kafka];
  const registryUrl = env[EXTERNAL_SERVER_ENV.registry];
  if (databaseUrl) given.databaseUrl = databaseUrl;
  if (brokers) given.kafkaBrokers = brokers.split(',').map((broker) => broker.trim());
  if (registryUrl) given.schemaRegistryUrl = registryUrl.replace(/\/+$/, '');
  const missing = STACK_SERVICES.filter((service) => {
    switch (service) {
      case 'postgres':
        return given.databaseUrl === undefined;
      case 'kafka':
        return given.kafkaBrokers === undefined;
      case 'registry':
        return given.schemaRegistryUrl === undefined;
    }
  });
  return { given, missing };
}

const complete = (connection: Partial<StackConnection>): StackConnection => {
  const { databaseUrl, kafkaBrokers, schemaRegistryUrl } = connection;
  if (databaseUrl === undefined || kafkaBrokers === undefined || schemaRegistryUrl === undefined) {
    throw new Error(`incomplete stack connection: ${JSON.stringify(connection)}`);
  }
  return { databaseUrl, kafkaBrokers, schemaRegistryUrl };
};

async function acquire(shared: { release: () => Promise<void> }): Promise<StackConnection> {
  const { given, missing } = fromEnvironment();
  if (missing.length === 0) {
    log('using the servers from DATABASE_URL, KAFKA_BROKERS and SCHEMA_REGISTRY_URL');
    return complete(given);
  }
  const config = resolveStackConfig();

  // A stack from `npm run stack:up` is reused and left running for the developer.
  const running = await readState(stateFile(config.repoRoot, 'default'));
  if (running !== undefined) {
    const health = await checkStackHealth(running, missing);
    if (health.length === missing.length && health.every((entry) => entry.healthy)) {
      log(`reusing the running stack (${stateFile(config.repoRoot, 'default')})`);
      return complete({ ...running, ...given });
    }
  }

  const name = `test-${process.pid}`;
  const file = stateFile(config.repoRoot, name);
  log(`starting ${missing.join(', ')} for this test run`);
  const state: StackState = await startStack({ name, services: missing, log });
  // Recorded so `npm run stack:down` can clean up if this run is killed before teardown.
  await writeState(file, state);
  log(`ready in ${state.startSeconds} s; logs under ${state.runDir}/logs`);
  const emergencyStop = (): void => {
    // Last resort on an abrupt exit: signal the servers; `stack:down` removes the dirs.
    for (const service of Object.values(state.services)) {
      try {
        process.kill(-service.process.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  process.once('exit', emergencyStop);
  shared.release = async () => {
    process.off('exit', emergencyStop);
    await stopStack(state);
    await removeState(file);
    log('stopped the stack of this test run');
  };
  return complete({ ...state, ...given });
}

/**
 * Global setup: provides `tributaryStack` (a {@link StackConnection}) to the project's
 * tests when they need it, and returns the matching teardown.
 */
export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  if (!projectNeedsStack(project)) return undefined;
  const holder = globalThis as GlobalWithStack;
  let shared = holder[SHARED];
  if (shared === undefined) {
    const created: SharedStack = {
      users: 0,
      release: () => Promise.resolve(),
      connection: new Promise<never>(() => undefined),
    };
    created.connection = acquire(created);
    holder[SHARED] = shared = created;
  }
  const active = shared;
  // A failed start stays recorded: the other projects fail fast with the same error
  // instead of each trying again.
  project.provide(PROVIDED_STACK_KEY, await active.connection);
  active.users += 1;
  return async () => {
    active.users -= 1;
    if (active.users > 0) return;
    delete holder[SHARED];
    await active.release();
  };
}
