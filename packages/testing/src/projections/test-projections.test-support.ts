import type { DomainEvent } from '@tributary/core';
import { defineProjection } from '@tributary/projections';

/** Events of the tiny counter domain used by the runtime tests. */
export type CounterEvent =
  | DomainEvent<'Incremented', { readonly by: number; readonly poison?: boolean }>
  | DomainEvent<'Reset', Record<string, never>>;

/** Set by a test to make handlers of events marked `poison` throw. */
export const poisonSwitch = { on: true };

/**
 * Counts how often each event id was applied and in which order, plus a running total per
 * counter: what exactly-once and per-aggregate order are checked against.
 */
export function applicationsProjection(
  version = 1,
  options: { ordering?: 'fail' | 'park' | 'warn'; poison?: 'stop' | 'park' | 'dead-letter' } = {},
) {
  return defineProjection<CounterEvent, 'applications' | 'totals'>({
    name: 'applications',
    version,
    aggregateTypes: ['Counter'],
    tables: ['applications', 'totals'],
    ...(options.ordering === undefined ? {} : { ordering: options.ordering }),
    ...(options.poison === undefined ? {} : { poison: options.poison }),
    migrations: [
      {
        name: '0001_tables',
        async up(_trx, migration) {
          await migration.createTable('applications', (table) => {
            table.text('event_id').primary();
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
        if (event.payload.poison === true && poisonSwitch.on) throw new Error('poison event');
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
      async Reset(event, { trx, tables }) {
        await trx(tables.totals).where({ counter_id: event.aggregateId }).update({ total: 0 });
      },
    },
  });
}
