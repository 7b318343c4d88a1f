import type { Knex } from 'knex';
import type { ReactorRuntimeConfig } from './config.js';

/**
 * Creates the process-state and deadline tables if they are missing (the reactor
 * runtime's own migration; the checkpoint tables are the projection runtime's). Serialized
 * across processes by an advisory lock, so two runtimes starting together do not race.
 */
export async function ensureReactorSchema(knex: Knex, config: ReactorRuntimeConfig): Promise<void> {
  const { schema, stateTable, deadlinesTable } = config;
  await knex.transaction(async (trx) => {
    await trx.raw(`select pg_advisory_xact_lock(hashtext(?))`, [`tributary:reactors:${schema}`]);
    await trx.raw(`create schema if not exists ??`, [schema]);
    await trx.raw(
      `create table if not exists ??.?? (
         reactor text not null,
         correlation_id text not null,
         state jsonb not null,
         completed boolean not null default false,
         updated_at timestamptz not null default now(),
         primary key (reactor, correlation_id)
       )`,
      [schema, stateTable],
    );
    await trx.raw(
      `create table if not exists ??.?? (
         id text primary key,
         reactor text not null,
         key text,
         due_at timestamptz not null,
         command_type text not null,
         command jsonb not null,
         correlation_id text,
         causation_id text,
         status text not null default 'pending'
           check (status in ('pending', 'executed', 'failed', 'cancelled')),
         error text,
         created_at timestamptz not null default now(),
         settled_at timestamptz
       )`,
      [schema, deadlinesTable],
    );
    // At most one pending command per (reactor, key); the due index keeps the poll cheap.
    await trx.raw(
      `create unique index if not exists ?? on ??.?? (reactor, key) where status = 'pending' and key is not null`,
      [`${deadlinesTable}_pending_key`, schema, deadlinesTable],
    );
    await trx.raw(`create index if not exists ?? on ??.?? (due_at) where status = 'pending'`, [
      `${deadlinesTable}_due`,
      schema,
      deadlinesTable,
    ]);
  });
}
