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
  options: {
    ordering?: 'fail' | 'park' | 'warn';
    poison?: 'stop' | 'park' | 'dead-letter';
    /** Adds a set-based batch handler that records the size of every batch it gets here. */
    batchSizes?: number[];
  } = {},
) {
  const batchSizes = options.batchSizes;
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
    ...(batchSizes === undefined
      ? {}
      : {
          // Two statements per run of increments, whatever its length; a Reset ends a run.
          async batchHandler(events, { trx, tables }) {
            batchSizes.push(events.length);
            let run: { id: string; counter: string; version: number; by: number }[] = [];
            const flush = async () => {
              if (run.length === 0) return;
              const rows = JSON.stringify(run);
              run = [];
              await trx.raw(
                `insert into ?? as a (event_id, counter_id, aggregate_version, applied)
                 select r.id, r.counter, r.version, 1
                   from jsonb_to_recordset(?::jsonb) with ordinality
                     as r(id text, counter text, version integer, by integer, n bigint)
                  order by r.n
                 on conflict (event_id) do update set applied = a.applied + 1`,
                [tables.applications, rows],
              );
              await trx.raw(
                `insert into ?? as t (counter_id, total)
                 select r.counter, sum(r.by)
                   from jsonb_to_recordset(?::jsonb) as r(counter text, by integer)
                  group by r.counter
                 on conflict (counter_id) do update set total = t.total + excluded.total`,
                [tables.totals, rows],
              );
            };
            for (const event of events) {
              if (event.eventType === 'Incremented') {
                if (event.payload.poison === true && poisonSwitch.on)
                  throw new Error('poison event');
                run.push({
                  id: event.eventId,
                  counter: event.aggregateId,
                  version: event.aggregateVersion,
                  by: event.payload.by,
                });
              } else {
                await flush();
                await trx(tables.totals)
                  .where({ counter_id: event.aggregateId })
                  .update({ total: 0 });
              }
            }
            await flush();
          },
        }),
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
