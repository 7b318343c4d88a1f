import type { Knex } from 'knex';
import { quoteIdentifier } from '@tributary/core';
import type { ProjectionRuntimeConfig } from '../../config.js';

/** The settings the PostgreSQL store uses: where its tables and the read models live. */
export type PostgresProjectionStoreConfig = Pick<
  ProjectionRuntimeConfig,
  | 'schema'
  | 'checkpointsTable'
  | 'aggregatesTable'
  | 'parkedTable'
  | 'deadLettersTable'
  | 'registryTable'
  | 'migrationsTable'
  | 'readModelSchema'
>;

/** Fully quoted names of the runtime tables, computed once. */
export interface RuntimeTables {
  readonly schema: string;
  readonly checkpoints: string;
  readonly aggregates: string;
  readonly parked: string;
  readonly deadLetters: string;
  readonly registry: string;
  readonly migrations: string;
}

/** `schema.table` names of the runtime tables for knex's query builder (which quotes each part). */
export type RuntimeTableRefs = Omit<RuntimeTables, 'schema'>;

/** Query-builder names of the runtime tables of a configuration. */
export function runtimeTableRefs(config: PostgresProjectionStoreConfig): RuntimeTableRefs {
  runtimeTables(config); // validates every identifier
  const ref = (table: string): string => `${config.schema}.${table}`;
  return {
    checkpoints: ref(config.checkpointsTable),
    aggregates: ref(config.aggregatesTable),
    parked: ref(config.parkedTable),
    deadLetters: ref(config.deadLettersTable),
    registry: ref(config.registryTable),
    migrations: ref(config.migrationsTable),
  };
}

/** Quoted, validated names of the runtime tables of a configuration. */
export function runtimeTables(config: PostgresProjectionStoreConfig): RuntimeTables {
  const schema = quoteIdentifier('schema', config.schema);
  const q = (kind: string, table: string): string => `${schema}.${quoteIdentifier(kind, table)}`;
  return {
    schema,
    checkpoints: q('checkpointsTable', config.checkpointsTable),
    aggregates: q('aggregatesTable', config.aggregatesTable),
    parked: q('parkedTable', config.parkedTable),
    deadLetters: q('deadLettersTable', config.deadLettersTable),
    registry: q('registryTable', config.registryTable),
    migrations: q('migrationsTable', config.migrationsTable),
  };
}

/** Quotes each part of a dotted name (`schema.table`) built from validated identifiers. */
export const quoteDotted = (name: string): string =>
  name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');

/**
 * Creates the runtime tables if missing. A transaction-scoped advisory lock serializes
 * concurrent starts, so two processes starting together cannot race on `create`.
 */
export async function createRuntimeTables(
  knex: Knex,
  t: RuntimeTables,
  readModelSchema: string,
): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx.raw(`select pg_advisory_xact_lock(hashtext(?))`, [`tributary:${t.schema}`]);
    // `create schema if not exists` needs CREATE on the database even when the schema
    // exists; a least-privilege role (see `tributary grants`) only has it on its schemas.
    for (const [schema, quoted] of [
      // t.schema is a validated identifier in double quotes.
      [t.schema.slice(1, -1), t.schema],
      [readModelSchema, quoteIdentifier('readModelSchema', readModelSchema)],
    ] as const) {
      const found = await trx.raw<{ rows: unknown[] }>(
        'select 1 from pg_namespace where nspname = ?',
        [schema],
      );
      if (found.rows.length === 0) await trx.raw(`create schema if not exists ${quoted}`);
    }
    await trx.raw(`create table if not exists ${t.registry} (
      projection text not null,
      version integer not null,
      status text not null check (status in ('building', 'active', 'retired')),
      tables jsonb not null,
      created_at timestamptz not null default now(),
      activated_at timestamptz,
      retired_at timestamptz,
      primary key (projection, version))`);
    await trx.raw(`create table if not exists ${t.migrations} (
      projection text not null,
      version integer not null,
      name text not null,
      applied_at timestamptz not null default now(),
      primary key (projection, version, name))`);
    // The checkpoint row is locked FOR UPDATE by every batch: it is what serializes a
    // zombie consumer with the partition's new owner.
    await trx.raw(`create table if not exists ${t.checkpoints} (
      projection text not null,
      version integer not null,
      topic text not null,
      partition integer not null,
      next_offset bigint not null,
      updated_at timestamptz not null default now(),
      primary key (projection, version, topic, partition))`);
    await trx.raw(`create table if not exists ${t.aggregates} (
      projection text not null,
      version integer not null,
      aggregate_type text not null,
      aggregate_id text not null,
      last_version integer not null,
      parked boolean not null default false,
      primary key (projection, version, aggregate_type, aggregate_id))`);
    await trx.raw(`create table if not exists ${t.parked} (
      id bigint generated always as identity primary key,
      projection text not null,
      version integer not null,
      aggregate_type text not null,
      aggregate_id text not null,
      aggregate_version integer not null,
      event_id text not null,
      event_type text not null,
      topic text not null,
      partition integer not null,
      record_offset bigint not null,
      reason text not null,
      error text,
      record_key text,
      record_value bytea,
      record_headers jsonb not null,
      parked_at timestamptz not null default now(),
      unique (projection, version, topic, partition, record_offset))`);
    // Written outside the batch transaction, right after the dead letter is acknowledged:
    // the batch may roll back and run again, the dead letter must not be published again.
    await trx.raw(`create table if not exists ${t.deadLetters} (
      projection text not null,
      version integer not null,
      topic text not null,
      partition integer not null,
      record_offset bigint not null,
      event_id text,
      published_at timestamptz not null default now(),
      primary key (projection, version, topic, partition, record_offset))`);
  });
}
