import { assertSqlIdentifier, InvalidIdentifierError } from '@tributary/core';
import {
  resolveProjectionRuntimeConfig,
  type ProjectionRuntimeConfig,
} from '@tributary/projections';

/**
 * Settings of the reactor runtime: every projection-runtime setting (reactors run on the
 * projection runtime, in their own tables and consumer groups) plus the process-state and
 * deadline settings.
 */
export interface ReactorRuntimeConfig extends ProjectionRuntimeConfig {
  /** Process-manager state per (reactor, correlation id). Default `reactor_process_state`. */
  readonly stateTable: string;
  /** Scheduled commands (deadlines). Default `reactor_deadlines`. */
  readonly deadlinesTable: string;
  /** How often due scheduled commands are looked for. Default 1,000 ms. */
  readonly deadlinePollIntervalMs: number;
  /** Most scheduled commands executed in one transaction. Default 100. */
  readonly deadlineBatchSize: number;
  /**
   * Run each batch's handlers one after the other with the commands' appends held back and
   * written together at the end of the batch (one statement for commands on distinct
   * aggregates), falling back to one event at a time when anything fails. Default true;
   * false runs every event in its own savepoint with its own append, as projections do.
   */
  readonly batchCommands: boolean;
}

/**
 * Where reactors differ from projections by default: their own bookkeeping tables, consumer
 * groups and dead-letter topics, so a reactor and a projection may share a name and a
 * database without sharing a checkpoint.
 */
export const defaultReactorRuntimeConfig = {
  checkpointsTable: 'reactor_checkpoints',
  aggregatesTable: 'reactor_aggregates',
  parkedTable: 'reactor_parked',
  deadLettersTable: 'reactor_dead_letters',
  registryTable: 'reactors',
  migrationsTable: 'reactor_migrations',
  groupIdPrefix: 'tributary.reactor',
  deadLetterTopicPrefix: 'tributary.dlq.reactor',
  stateTable: 'reactor_process_state',
  deadlinesTable: 'reactor_deadlines',
  deadlinePollIntervalMs: 1_000,
  deadlineBatchSize: 100,
  batchCommands: true,
} as const satisfies Partial<ReactorRuntimeConfig>;

/**
 * Fills in defaults (reactor ones, then the projection runtime's) and validates them.
 *
 * @throws InvalidIdentifierError for a bad table name or a non-positive setting.
 */
export function resolveReactorRuntimeConfig(
  overrides: Partial<ReactorRuntimeConfig> = {},
): ReactorRuntimeConfig {
  const merged = { ...defaultReactorRuntimeConfig, ...overrides };
  const config: ReactorRuntimeConfig = {
    ...resolveProjectionRuntimeConfig(merged),
    stateTable: merged.stateTable,
    deadlinesTable: merged.deadlinesTable,
    deadlinePollIntervalMs: merged.deadlinePollIntervalMs,
    deadlineBatchSize: merged.deadlineBatchSize,
    batchCommands: merged.batchCommands,
  };
  assertSqlIdentifier('stateTable', config.stateTable);
  assertSqlIdentifier('deadlinesTable', config.deadlinesTable);
  if (typeof config.batchCommands !== 'boolean') {
    throw new InvalidIdentifierError(
      'batchCommands',
      config.batchCommands,
      'must be true or false',
    );
  }
  for (const key of ['deadlinePollIntervalMs', 'deadlineBatchSize'] as const) {
    if (!Number.isSafeInteger(config[key]) || config[key] < 1) {
      throw new InvalidIdentifierError(key, config[key], 'must be a positive integer');
    }
  }
  return config;
}

/** `schema.table` of the process-state and deadline tables. */
export function reactorTables(config: ReactorRuntimeConfig): {
  readonly state: string;
  readonly deadlines: string;
} {
  return {
    state: `${config.schema}.${config.stateTable}`,
    deadlines: `${config.schema}.${config.deadlinesTable}`,
  };
}
