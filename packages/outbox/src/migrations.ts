import { quoteIdentifier } from '@tributary/core';
import knexFactory, { type Knex } from 'knex';
import { qualifiedTable, resolveOutboxConfig, type OutboxConfig } from './config.js';

/** One knex migration of the outbox schema. */
export interface OutboxMigration {
  readonly name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * The outbox migrations for a configuration. They are code, not files, so that schema
 * and table names come from configuration (validated and quoted) rather than being baked
 * into SQL files.
 */
export function outboxMigrations(config: OutboxConfig): readonly OutboxMigration[] {
  const events = qualifiedTable(config, 'eventsTable');
  const snapshots = qualifiedTable(config, 'snapshotsTable');
  const commands = qualifiedTable(config, 'commandsTable');
  const versionConstraint = quoteIdentifier(
    'constraint',
    `${config.eventsTable}_stream_version_key`,
  );
  return [
    {
      name: '0001_create_events',
      async up(knex) {
        // `position` is insertion order, not commit order: never use it as a cursor (a
        // transaction that commits later can hold a smaller position). The unique stream
        // version constraint is the optimistic-concurrency guard.
        await knex.raw(`
          create table ${events} (
            position bigint generated always as identity,
            event_id uuid primary key,
            aggregate_type text not null,
            aggregate_id text not null,
            aggregate_version integer not null check (aggregate_version > 0),
            event_type text not null,
            schema_version integer not null default 1 check (schema_version > 0),
            payload jsonb not null,
            metadata jsonb not null default '{}'::jsonb,
            occurred_at timestamptz not null,
            constraint ${versionConstraint} unique (aggregate_type, aggregate_id, aggregate_version)
          )`);
      },
      async down(knex) {
        await knex.raw(`drop table if exists ${events}`);
      },
    },
    {
      name: '0002_create_snapshots',
      async up(knex) {
        await knex.raw(`
          create table ${snapshots} (
            aggregate_type text not null,
            aggregate_id text not null,
            aggregate_version integer not null,
            state_version integer not null,
            state jsonb not null,
            taken_at timestamptz not null,
            primary key (aggregate_type, aggregate_id)
          )`);
      },
      async down(knex) {
        await knex.raw(`drop table if exists ${snapshots}`);
      },
    },
    {
      name: '0003_create_commands',
      async up(knex) {
        // One row per command executed with an idempotency key, written by the append
        // statement in the same transaction as its events: the primary key makes a racing
        // or retried duplicate write nothing, and the versions let it return the original
        // result. Rows are never needed once no client can retry that command any more.
        await knex.raw(`
          create table ${commands} (
            command_id text primary key,
            aggregate_type text not null,
            aggregate_id text not null,
            from_version integer not null,
            to_version integer not null,
            processed_at timestamptz not null default now()
          )`);
      },
      async down(knex) {
        await knex.raw(`drop table if exists ${commands}`);
      },
    },
  ];
}

/** Options of {@link migrateOutbox}. */
export interface MigrateOptions {
  /** A knex instance to use; otherwise one is created from `connectionString` and destroyed after. */
  readonly knex?: Knex;
  readonly connectionString?: string;
  readonly config?: Partial<OutboxConfig>;
}

/** The result of {@link migrateOutbox}. */
export interface MigrateResult {
  /** Names of the migrations applied by this call (empty when already up to date). */
  readonly applied: readonly string[];
}

/**
 * Brings the outbox schema up to date. Safe to run concurrently from several processes:
 * knex takes a lock row in its migrations lock table.
 */
export async function migrateOutbox(options: MigrateOptions): Promise<MigrateResult> {
  const config = resolveOutboxConfig(options.config);
  const knex = options.knex ?? createKnex(options.connectionString);
  try {
    // knex keeps its bookkeeping tables in our schema, which must exist first.
    await knex.raw(`create schema if not exists ${quoteIdentifier('schema', config.schema)}`);
    const migrations = outboxMigrations(config);
    const source: Knex.MigrationSource<OutboxMigration> = {
      getMigrations: () => Promise.resolve([...migrations]),
      getMigrationName: (migration) => migration.name,
      getMigration: (migration) => Promise.resolve(migration),
    };
    const [, applied] = (await knex.migrate.latest({
      migrationSource: source,
      schemaName: config.schema,
      tableName: config.migrationsTable,
    })) as [number, string[]];
    return { applied };
  } finally {
    if (options.knex === undefined) await knex.destroy();
  }
}

/** Creates a knex instance for PostgreSQL. */
export function createKnex(
  connectionString: string | undefined,
  pool: Knex.PoolConfig = { min: 0, max: 10 },
): Knex {
  if (connectionString === undefined || connectionString === '') {
    throw new Error(
      'No database connection: set DATABASE_URL (e.g. postgres://user:pass@127.0.0.1:5432/db).',
    );
  }
  return knexFactory({ client: 'pg', connection: connectionString, pool });
}
