/**
 * @packageDocumentation
 * The projection runtime of Tributary: projections defined in code (typed handlers, knex
 * read-model tables with migrations, tsyringe-injectable), applied from Kafka exactly once
 * (batch + checkpoint in one database transaction), with an ordering guard, poison-event
 * policies, parked events, rebuild by replay and lag status. The `tributary project | rebuild |
 * status | parked` commands that run them are in `@tributary/cli`.
 */
export * from './config.js';
export * from './errors.js';
export * from './projection.js';
export * from './instrumentation.js';
export * from './source-record.js';
export * from './fault-injection.js';
export * from './store/projection-store.js';
export { PostgresProjectionStore } from './store/postgres/postgres-projection-store.js';
export {
  DEFAULT_PROJECTION_QUERY_TIMEOUT_MS,
  PROJECTION_CONNECT_TIMEOUT_MS,
  postgresProjectionKnexConfig,
  type PostgresProjectionConnectionOptions,
} from './store/postgres/connection.js';
export {
  runtimeTableRefs,
  runtimeTables,
  type PostgresProjectionStoreConfig,
  type RuntimeTableRefs,
  type RuntimeTables,
} from './store/postgres/tables.js';
export type { AppliedProjection } from './runtime/handlers.js';
export * from './runtime/projection-applier.js';
export * from './runtime/dead-letter.js';
export * from './runtime/parked.js';
export * from './runtime/kafka-runtime.js';
export * from './rebuild.js';
export * from './status.js';
export * from './read-your-writes.js';
