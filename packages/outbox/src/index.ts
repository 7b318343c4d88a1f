/**
 * @packageDocumentation
 * The PostgreSQL side of Tributary: the outbox table as event store, its knex migrations,
 * snapshots, and (next) the WAL capturer that streams the outbox to Kafka.
 */
export * from './config.js';
export * from './migrations.js';
export type { SqlConnection } from './internal/sql-executor.js';
export * from './event-store/postgres-event-store.js';
export * from './event-store/postgres-snapshot-store.js';
