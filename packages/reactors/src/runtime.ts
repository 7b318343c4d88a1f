import {
  CommandBus,
  silentLogger,
  systemClock,
  type AnyAggregate,
  type CommandBusOptions,
  type Instrumentation,
  type KafkaClient,
  type Logger,
  type RecordValueDecoder,
  type UpcasterChain,
} from '@tributary/core';
import {
  createProjectionRuntime,
  type FaultPlan,
  type ProjectionInstrumentationEvents,
  type ProjectionRuntime,
} from '@tributary/projections';
import type { Knex } from 'knex';
import { reactorTables, resolveReactorRuntimeConfig, type ReactorRuntimeConfig } from './config.js';
import type {
  ReactorContextServices,
  TransactionalCommandExecutor,
  TransactionalEventStore,
} from './context.js';
import { DeadlineRunner, type DeadlineRun } from './deadline-runner.js';
import { commandClassesOf, DeadlineStore } from './deadlines.js';
import type { AnyReactor } from './reactor.js';
import { BatchedEventStore } from './batched-event-store.js';
import {
  reactorProjection,
  type BatchedCommandExecutor,
  type ReactorBatchServices,
} from './reactor-projection.js';
import { ensureReactorSchema } from './schema.js';

/** Options of {@link createReactorRuntime}. */
export interface ReactorRuntimeOptions {
  /** The Kafka client (any client of the port). */
  readonly kafka: KafkaClient;
  /**
   * The service's database (a `pg` knex): reactor checkpoints, process state and deadlines
   * live here, in the same database as the service's outbox. The caller owns it.
   */
  readonly knex: Knex;
  readonly reactors: readonly AnyReactor[];
  /**
   * The service's event store; its `withTransaction` appends the reactors' commands in the
   * transaction that moves their checkpoints (e.g. `PostgresEventStore` of `@tributary/outbox`).
   */
  readonly eventStore: TransactionalEventStore;
  /** The aggregates whose commands reactors execute and schedule. */
  readonly aggregates: readonly AnyAggregate[];
  /** Command-bus options besides the store and aggregates (retry, validation, snapshots…). */
  readonly commandBus?: Omit<CommandBusOptions, 'eventStore' | 'aggregates'>;
  readonly config?: Partial<ReactorRuntimeConfig>;
  /** Applied to consumed events before handlers (and by the command bus). */
  readonly upcasters?: UpcasterChain;
  readonly valueDecoder?: RecordValueDecoder;
  readonly instrumentation?: Instrumentation<ProjectionInstrumentationEvents>;
  readonly logger?: Logger;
  /** Run due scheduled commands in this process. Default true. */
  readonly runDeadlines?: boolean;
  /** Crash-test fault plans (as for projections). */
  readonly faults?: readonly FaultPlan[];
  /** For deadlines (`after`, due checks). Default the system clock. */
  readonly clock?: () => Date;
}

/** A running set of reactors and the deadline poller. */
export interface ReactorRuntime {
  readonly config: ReactorRuntimeConfig;
  /** The projection runtime the reactors run on (instrumentation, store, `waitFor`). */
  readonly projections: ProjectionRuntime;
  readonly deadlines: DeadlineStore;
  /** Creates the tables, registers the reactors, starts consuming and polling deadlines. */
  start(): Promise<void>;
  /** Stops polling and consuming; in-flight batches finish. */
  stop(): Promise<void>;
  /** Resolves after `stop()`, rejects on a fatal error. */
  readonly stopped: Promise<void>;
  /** Executes the scheduled commands due now (what the poller does every interval). */
  runDueDeadlines(): Promise<DeadlineRun>;
}

/** The command bus of a service bound to one transaction, cached per transaction. */
export function transactionalCommandBus(
  eventStore: TransactionalEventStore,
  aggregates: readonly AnyAggregate[],
  options: Omit<CommandBusOptions, 'eventStore' | 'aggregates'> = {},
): (trx: Knex.Transaction) => TransactionalCommandExecutor {
  const buses = new WeakMap<Knex.Transaction, CommandBus>();
  return (trx) => {
    let bus = buses.get(trx);
    if (bus === undefined) {
      bus = new CommandBus({ ...options, eventStore: eventStore.withTransaction(trx), aggregates });
      buses.set(trx, bus);
    }
    return bus;
  };
}

/**
 * A command bus of the service for one whole batch: its appends are held back by a
 * {@link BatchedEventStore} over the batch transaction and written by `flush`.
 */
export function batchedCommandBus(
  eventStore: TransactionalEventStore,
  aggregates: readonly AnyAggregate[],
  options: Omit<CommandBusOptions, 'eventStore' | 'aggregates'> = {},
): (trx: Knex.Transaction) => BatchedCommandExecutor {
  return (trx) => {
    const store = new BatchedEventStore(eventStore.withTransaction(trx));
    const bus = new CommandBus({ ...options, eventStore: store, aggregates });
    return {
      execute: (command, context) => bus.execute(command, context),
      flush: () => store.flush(),
    };
  };
}

/**
 * Reactors on Kafka and PostgreSQL, exactly once: each reactor runs on the projection
 * runtime (its own consumer group, per-batch transaction with the checkpoint), and its
 * commands are appended by the service's event store through that transaction. Scheduled
 * commands are executed by a poller (`for update skip locked`) in every process.
 */
export function createReactorRuntime(options: ReactorRuntimeOptions): ReactorRuntime {
  const config = resolveReactorRuntimeConfig(options.config);
  const tables = reactorTables(config);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const deadlines = new DeadlineStore(tables.deadlines, commandClassesOf(options.aggregates));
  const commandBus = transactionalCommandBus(options.eventStore, options.aggregates, {
    ...options.commandBus,
    ...(options.upcasters === undefined ? {} : { upcasters: options.upcasters }),
  });
  // Snapshots are saved outside the batch transaction, so a batch that rolls back after
  // the bus saved one would leave it behind: with snapshots, events go one at a time.
  const batch: ReactorBatchServices | undefined =
    config.batchCommands && options.commandBus?.snapshots === undefined
      ? {
          batchedCommandBus: batchedCommandBus(options.eventStore, options.aggregates, {
            ...options.commandBus,
            ...(options.upcasters === undefined ? {} : { upcasters: options.upcasters }),
          }),
        }
      : undefined;
  const services: ReactorContextServices = {
    commandBus,
    deadlines,
    stateTable: tables.state,
    clock,
  };
  const projections = createProjectionRuntime({
    kafka: options.kafka,
    knex: options.knex,
    projections: options.reactors.map((reactor) => reactorProjection(reactor, services, batch)),
    config,
    ...(options.upcasters === undefined ? {} : { upcasters: options.upcasters }),
    ...(options.valueDecoder === undefined ? {} : { valueDecoder: options.valueDecoder }),
    ...(options.instrumentation === undefined ? {} : { instrumentation: options.instrumentation }),
    logger,
    ...(options.faults === undefined ? {} : { faults: options.faults }),
  });
  const runner = new DeadlineRunner({
    knex: options.knex,
    deadlines,
    commandBus,
    clock,
    batchSize: config.deadlineBatchSize,
    logger,
  });
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<unknown> = Promise.resolve();
  let stopping = false;
  const poll = (): void => {
    polling = runner
      .runDue()
      .catch((error: unknown) => {
        // Transient (database down, lock timeout): the rows stay pending for the next poll.
        logger.warn('scheduled commands could not run; retrying at the next poll', {
          error: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(() => {
        if (!stopping) timer = setTimeout(poll, config.deadlinePollIntervalMs);
      });
  };
  return {
    config,
    projections,
    deadlines,
    stopped: projections.stopped,
    runDueDeadlines: () => runner.runDue(),
    async start() {
      await ensureReactorSchema(options.knex, config);
      await projections.start();
      if (options.runDeadlines ?? true) poll();
    },
    async stop() {
      stopping = true;
      if (timer !== undefined) clearTimeout(timer);
      await polling;
      await projections.stop();
    },
  };
}
