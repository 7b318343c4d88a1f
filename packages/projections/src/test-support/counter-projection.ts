import type { DomainEvent } from '@tributary/core';
import { defineProjection } from '../projection.js';

/** Events of the counter domain used by the integration and crash tests. */
export type CounterEvent = DomainEvent<'Incremented', { readonly by: number }>;

/**
 * Counts applications per event id (`applied` must end at exactly 1) and records the
 * order of application (`seq`), so tests can check exactly-once and per-aggregate order.
 */
export const applicationsProjection = defineProjection<CounterEvent, 'applications' | 'totals'>({
  name: 'applications',
  version: 1,
  aggregateTypes: ['Counter'],
  tables: ['applications', 'totals'],
  migrations: [
    {
      name: '0001_tables',
      async up(_trx, migration) {
        await migration.createTable('applications', (table) => {
          table.uuid('event_id').primary();
          table.text('counter_id').notNullable();
          table.integer('aggregate_version').notNullable();
          table.integer('applied').notNullable();
          table.bigIncrements('seq', { primaryKey: false });
        });
        await migration.createTable('totals', (table) => {
          table.text('counter_id').primary();
          table.integer('total').notNullable();
        });
      },
    },
  ],
  handlers: {
    async Incremented(event, { trx, tables }) {
      await trx.raw(
        `insert into ?? as a (event_id, counter_id, aggregate_version, applied) values (?, ?, ?, 1)
         on conflict (event_id) do update set applied = a.applied + 1`,
        [tables.applications, event.eventId, event.aggregateId, event.aggregateVersion],
      );
      await trx.raw(
        `insert into ?? as t (counter_id, total) values (?, ?)
         on conflict (counter_id) do update set total = t.total + excluded.total`,
        [tables.totals, event.aggregateId, event.payload.by],
      );
    },
  },
});
