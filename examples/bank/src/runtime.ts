import { CommandBus, type EventStore, registerTributary, type RetryOptions } from '@tributary/core';
import {
  createPostgresKafkaCapturer,
  migrateOutbox,
  PostgresEventStore,
  resolveCaptureConfig,
} from '@tributary/outbox';
import { createKafkajsClient } from '@tributary/kafkajs';
import pg from 'pg';
import { InMemoryEventStore, upStack } from '@tributary/testing';
import { container as rootContainer } from 'tsyringe';
import { Account } from './account/account.js';
import { bankUpcasters } from './account/upcasters.js';
import { BankService } from './bank-service.js';
import {
  createInMemoryReadSide,
  createKafkaReadSide,
  type ReadSide,
} from './read-models/read-side.js';
import { Transfer } from './transfer/transfer.js';

/** Every aggregate of the bank, for the command bus. */
export const bankAggregates = [Account, Transfer] as const;

/** Which infrastructure the bank runs on. */
export type RuntimeKind = 'in-memory' | 'stack';

/**
 * Everything the demo and the application service need, whatever the infrastructure: the
 * event store, the command bus and the bank service. Read models join here once the
 * projection runtime exists.
 */
export interface Runtime {
  readonly kind: RuntimeKind;
  readonly eventStore: EventStore;
  readonly bus: CommandBus;
  readonly bank: BankService;
  /** The read models, when asked for (`readModels: true`). */
  readonly readSide?: ReadSide;
  /** Releases connections and servers (nothing for the in-memory runtime). */
  close(): Promise<void>;
}

/**
 * Picks the runtime from the command line (`--stack`) or the environment
 * (`TRIBUTARY_RUNTIME=stack`); the in-memory runtime is the default so the demo runs on any
 * machine.
 */
export function runtimeKindFrom(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): RuntimeKind {
  return argv.includes('--stack') || env['TRIBUTARY_RUNTIME'] === 'stack' ? 'stack' : 'in-memory';
}

/** The runtime that was asked for cannot be started (yet). */
export class RuntimeUnavailableError extends Error {
  constructor(kind: RuntimeKind, reason: string) {
    super(`The ${kind} runtime is not available: ${reason}`);
    this.name = 'RuntimeUnavailableError';
  }
}

/** Options of {@link createInMemoryRuntime}. */
export interface InMemoryRuntimeOptions {
  /** Retry of the command bus on concurrency conflicts. Default: the bus's default. */
  readonly retry?: RetryOptions;
}

/** Options of {@link createRuntime}. */
export interface RuntimeOptions extends PostgresRuntimeOptions {
  /**
   * Also run the read side: projections into read models (PGlite in memory; on the stack,
   * the WAL capturer to Kafka and the projection runtime into PostgreSQL). Default false.
   */
  readonly readModels?: boolean;
  /** Kafka brokers for the stack read side. Default: env `KAFKA_BROKERS`, else the local stack. */
  readonly kafkaBrokers?: readonly string[];
}

/**
 * The bank on an {@link InMemoryEventStore}: no servers, same validation, versioning and
 * concurrency rules as the Postgres store. Wired through a child tsyringe container, as an
 * application would be, so each runtime has its own singletons.
 */
export function createInMemoryRuntime(options: InMemoryRuntimeOptions = {}): Runtime {
  return wireRuntime('in-memory', new InMemoryEventStore(), options, () => Promise.resolve());
}

/** Registers the bank on `eventStore` in a child container and resolves bus and service. */
function wireRuntime(
  kind: RuntimeKind,
  eventStore: EventStore,
  options: InMemoryRuntimeOptions,
  close: () => Promise<void>,
  readSide?: ReadSide,
): Runtime {
  const container = rootContainer.createChildContainer();
  registerTributary(container, {
    eventStore,
    aggregates: bankAggregates,
    upcasters: bankUpcasters,
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  });
  return {
    kind,
    eventStore,
    bus: container.resolve(CommandBus),
    bank: container.resolve(BankService),
    ...(readSide === undefined ? {} : { readSide }),
    close,
  };
}

/** Options of {@link createPostgresRuntime}. */
export interface PostgresRuntimeOptions extends InMemoryRuntimeOptions {
  /** Default: env `DATABASE_URL`, else the local stack (`npm run stack:up`, started if needed). */
  readonly databaseUrl?: string;
  /**
   * Schema of the outbox tables. Default: a fresh `demo_<timestamp>` schema per run, so the
   * scripted scenario (which opens fixed accounts) can run again on the same database.
   */
  readonly schema?: string;
  /** Progress lines (stack start, migrations). */
  readonly log?: (line: string) => void;
}

/**
 * The bank on PostgreSQL by configuration alone: the same aggregates, commands and bus,
 * with the {@link PostgresEventStore} (the outbox table) instead of the in-memory store.
 */
export async function createPostgresRuntime(
  options: PostgresRuntimeOptions = {},
): Promise<Runtime> {
  const log = options.log ?? (() => undefined);
  let databaseUrl = options.databaseUrl ?? process.env['DATABASE_URL'];
  if (databaseUrl === undefined || databaseUrl === '') {
    log(
      'DATABASE_URL is not set: using the local stack (npm run stack:up), starting it if needed…',
    );
    const { state, reused } = await upStack({ log });
    log(reused ? 'local stack already running' : 'local stack started');
    databaseUrl = state.databaseUrl;
    if (databaseUrl === undefined)
      throw new RuntimeUnavailableError('stack', 'the local stack reported no database URL');
  }
  const schema =
    options.schema ?? `demo_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
  const config = { schema };
  const { applied } = await migrateOutbox({ connectionString: databaseUrl, config });
  log(
    `outbox schema "${schema}" ready (${applied.length} migrations applied) on ${redact(databaseUrl)}`,
  );
  const eventStore = new PostgresEventStore({ connectionString: databaseUrl, config });
  return wireRuntime('stack', eventStore, options, () => eventStore.close());
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/**
 * Creates the runtime of `kind`: in memory, or on PostgreSQL (the local stack by default),
 * with the read side when `readModels` is set.
 */
export async function createRuntime(
  kind: RuntimeKind,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  if (options.readModels !== true) {
    switch (kind) {
      case 'in-memory':
        return createInMemoryRuntime(options);
      case 'stack':
        return createPostgresRuntime(options);
    }
  }
  switch (kind) {
    case 'in-memory': {
      const eventStore = new InMemoryEventStore();
      const readSide = await createInMemoryReadSide(eventStore, bankUpcasters);
      return wireRuntime('in-memory', eventStore, options, () => readSide.close(), readSide);
    }
    case 'stack':
      return createStackRuntimeWithReadModels(options);
  }
}

/**
 * The whole pipeline on the real stack: commands → PostgreSQL outbox → WAL capturer →
 * Kafka → projection runtime → read models in PostgreSQL. Each run uses its own outbox
 * schema, topic prefix, slot and consumer groups, and drops its slot on close so it pins
 * no WAL afterwards.
 */
async function createStackRuntimeWithReadModels(options: RuntimeOptions): Promise<Runtime> {
  const log = options.log ?? (() => undefined);
  let databaseUrl = options.databaseUrl ?? process.env['DATABASE_URL'];
  let brokers =
    options.kafkaBrokers === undefined
      ? process.env['KAFKA_BROKERS']?.split(',')
      : [...options.kafkaBrokers];
  if (databaseUrl === undefined || databaseUrl === '' || brokers === undefined) {
    log(
      'DATABASE_URL/KAFKA_BROKERS not set: using the local stack (npm run stack:up), starting it if needed…',
    );
    const { state, reused } = await upStack({ log });
    log(reused ? 'local stack already running' : 'local stack started');
    databaseUrl = state.databaseUrl;
    brokers = state.kafkaBrokers === undefined ? undefined : [...state.kafkaBrokers];
    if (databaseUrl === undefined || brokers === undefined)
      throw new RuntimeUnavailableError('stack', 'the local stack reported no database or Kafka');
  }
  const schema =
    options.schema ?? `demo_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
  const writeSide = await createPostgresRuntime({ ...options, databaseUrl, schema });
  const topicPrefix = `${schema}.events`;
  const capture = resolveCaptureConfig({
    name: schema,
    databaseUrl,
    outbox: { schema },
    kafka: { brokers },
    topics: { partitions: 3 },
    router: { topicPrefix },
    heartbeatIntervalMs: 0,
    progressIntervalMs: 0,
  });
  const capturer = createPostgresKafkaCapturer({
    config: capture,
    kafka: createKafkajsClient({ brokers }),
  });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const releaseCapture = async (): Promise<void> => {
    await capturer.stop();
    // The slot and publication belong to this demo run only: a leftover slot would pin WAL.
    await pool.query(
      'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1',
      [capture.slot.name],
    );
    await pool.query(`drop publication if exists "${capture.slot.publication}"`);
    await pool.end();
  };
  const capturing = capturer.run();
  capturing.catch((error: unknown) => log(`capturer stopped: ${String(error)}`));
  const deadline = Date.now() + 60_000;
  while (capturer.state !== 'streaming') {
    if (Date.now() > deadline)
      throw new RuntimeUnavailableError('stack', `capturer stuck in ${capturer.state}`);
    await Promise.race([capturing, new Promise((resolve) => setTimeout(resolve, 50))]);
  }
  log(`capturer "${schema}" streaming the outbox to Kafka topics ${topicPrefix}.*`);
  let readSide: ReadSide;
  try {
    readSide = await createKafkaReadSide({
      databaseUrl,
      brokers,
      schema,
      topicPrefix,
      upcasters: bankUpcasters,
      expectedEvents: async () => {
        const result = await pool.query<{ count: string }>(
          `select count(*) as count from "${schema}".events`,
        );
        return Number(result.rows[0]?.count ?? 0);
      },
    });
  } catch (error) {
    await releaseCapture();
    await writeSide.close();
    throw error;
  }
  log(`projection runtime consuming into schema "${schema}_read"`);
  return {
    ...writeSide,
    readSide,
    async close() {
      await readSide.close();
      await releaseCapture();
      await writeSide.close();
    },
  };
}
