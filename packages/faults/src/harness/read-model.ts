/**
 * The projections module the matrix's `tributary project` process loads (`--module`): one
 * row per application, without a unique key, so a duplicate application shows up as a second
 * row and the order of application as the `seq` column.
 */
import type { DomainEvent } from '@tributary/core';
import { defineProjection } from '@tributary/projections';

/** Name of the read-model table (in the `public` schema of the scenario's database). */
export const APPLIED_TABLE = 'fault_applied';

/** Every event the writers append. */
export type HappenedEvent = DomainEvent<'Happened', { readonly writer: number }>;

/** The read model of the fault matrix: every applied event, in application order. */
export const projections = [
  defineProjection<HappenedEvent, typeof APPLIED_TABLE>({
    name: 'fault_matrix',
    version: 1,
    aggregateTypes: ['Account', 'Transfer', 'Order'],
    tables: [APPLIED_TABLE],
    migrations: [
      {
        name: '0001_applied',
        async up(_trx, migration) {
          await migration.createTable(APPLIED_TABLE, (table) => {
            table.bigIncrements('seq');
            table.text('event_id').notNullable();
            table.text('stream').notNullable();
            table.integer('version').notNullable();
          });
        },
      },
    ],
    // One statement per batch: the per-event handler costs a round trip per event, which a
    // loaded 2-core CI machine cannot sustain at the writers' rate. `with ordinality` keeps
    // the batch's order in `seq`.
    async batchHandler(events, { trx, tables }) {
      const rows = events.map((event) => ({
        id: event.eventId,
        stream: `${event.aggregateType}/${event.aggregateId}`,
        version: event.aggregateVersion,
      }));
      await trx.raw(
        `insert into ?? (event_id, stream, version)
         select r.id, r.stream, r.version
           from rows from (jsonb_to_recordset(?::jsonb) as (id text, stream text, version integer))
                with ordinality as r(id, stream, version, n)
          order by r.n`,
        [tables[APPLIED_TABLE], JSON.stringify(rows)],
      );
    },
    handlers: {
      async Happened(event, { trx, tables }) {
        await trx(tables[APPLIED_TABLE]).insert({
          event_id: event.eventId,
          stream: `${event.aggregateType}/${event.aggregateId}`,
          version: event.aggregateVersion,
        });
      },
    },
  }),
];
