import {
  CommandBus,
  systemClock,
  type AnyAggregate,
  type CommandBusOptions,
  type EventStore,
  type UpcasterChain,
} from '@tributary/core';
import {
  commandClassesOf,
  DeadlineRunner,
  DeadlineStore,
  ensureReactorSchema,
  reactorProjection,
  reactorTables,
  resolveReactorRuntimeConfig,
  type AnyReactor,
  type DeadlineRun,
  type ReactorContextServices,
  type ReactorRuntimeConfig,
} from '@tributary/reactors';
import type { Knex } from 'knex';
import type { InMemoryKafkaLog } from '../log/in-memory-kafka-log.js';
import {
  InMemoryProjectionRuntime,
  type RunSummary,
} from '../projections/in-memory-projection-runtime.js';

/** Options of {@link InMemoryReactorRuntime}. */
export interface InMemoryReactorRuntimeOptions {
  readonly log: InMemoryKafkaLog;
  /** Checkpoints, process state and deadlines: PGlite (`createPgliteKnex`) or a real Postgres. */
  readonly knex: Knex;
  readonly reactors: readonly AnyReactor[];
  /** The service's event store (e.g. `InMemoryEventStore`), which reactors' commands append to. */
  readonly eventStore: EventStore;
  readonly aggregates: readonly AnyAggregate[];
  readonly commandBus?: Omit<CommandBusOptions, 'eventStore' | 'aggregates'>;
  readonly config?: Partial<ReactorRuntimeConfig>;
  readonly upcasters?: UpcasterChain;
  /** Decides when scheduled commands fall due (a test clock). Default the system clock. */
  readonly clock?: () => Date;
  /** Runs or records external effects (`ctx.effect`). Default: runs them. */
  readonly effects?: ReactorContextServices['effects'];
}

/**
 * The reactor runtime on the {@link InMemoryKafkaLog}: the same reactor definitions, run
 * through the same projection applier as on Kafka, driven by explicit calls. The commands'
 * events go to an event store that does not share the checkpoint's transaction (there is
 * none in memory); a redelivery is still harmless, because the derived command ids make the
 * store return the recorded result instead of appending again.
 */
export class InMemoryReactorRuntime {
  readonly config: ReactorRuntimeConfig;
  readonly projections: InMemoryProjectionRuntime;
  readonly deadlines: DeadlineStore;
  readonly #options: InMemoryReactorRuntimeOptions;
  readonly #runner: DeadlineRunner;

  constructor(options: InMemoryReactorRuntimeOptions) {
    this.#options = options;
    this.config = resolveReactorRuntimeConfig(options.config);
    const tables = reactorTables(this.config);
    const clock = options.clock ?? systemClock;
    this.deadlines = new DeadlineStore(tables.deadlines, commandClassesOf(options.aggregates));
    const bus = new CommandBus({
      ...options.commandBus,
      ...(options.upcasters === undefined ? {} : { upcasters: options.upcasters }),
      eventStore: options.eventStore,
      aggregates: options.aggregates,
    });
    const services: ReactorContextServices = {
      commandBus: () => bus,
      deadlines: this.deadlines,
      stateTable: tables.state,
      clock,
      ...(options.effects === undefined ? {} : { effects: options.effects }),
    };
    this.projections = new InMemoryProjectionRuntime({
      log: options.log,
      knex: options.knex,
      projections: options.reactors.map((reactor) => reactorProjection(reactor, services)),
      config: this.config,
      ...(options.upcasters === undefined ? {} : { upcasters: options.upcasters }),
    });
    this.#runner = new DeadlineRunner({
      knex: options.knex,
      deadlines: this.deadlines,
      commandBus: () => bus,
      clock,
      batchSize: this.config.deadlineBatchSize,
    });
  }

  /** Creates the tables and joins the reactors' groups. */
  async start(): Promise<void> {
    await ensureReactorSchema(this.#options.knex, this.config);
    await this.projections.start();
  }

  /** Delivers and handles everything the log holds for the reactors. */
  runUntilIdle(): Promise<RunSummary> {
    return this.projections.runUntilIdle();
  }

  /** Executes the scheduled commands due by the runtime's clock. */
  runDueDeadlines(): Promise<DeadlineRun> {
    return this.#runner.runDue();
  }

  /** Leaves the groups. */
  stop(): Promise<void> {
    return this.projections.stop();
  }
}
