/**
 * The read model every projection benchmark applies: a running total per counter, written
 * either by one upsert per event (a per-event handler) or by one set-based upsert per batch
 * (a batch handler). Shared by the bench process and its projection child processes.
 */
import type { DomainEvent } from '@tributary/core';
import { defineProjection } from '@tributary/projections';

/** The counter event of the benchmarks' topics. */
export type CounterEvent = DomainEvent<'Incremented', { readonly by: number }>;

/** How the read model is written. */
export type HandlerMode = 'per-event' | 'batch';

/** Parses `BENCH_HANDLERS`-style lists (`per-event,batch`). */
export function handlerModes(value: string | undefined): HandlerMode[] {
  const modes = (value ?? 'per-event,batch')
    .split(',')
    .map((mode) => mode.trim())
    .filter((mode) => mode !== '');
  for (const mode of modes)
    if (mode !== 'per-event' && mode !== 'batch')
      throw new Error(`BENCH_HANDLERS: "${mode}" is not per-event or batch`);
  return modes as HandlerMode[];
}

/**
 * The `bench_totals` projection. `onApplied` is called for every applied event (inside the
 * batch transaction: the caller stamps the events when the batch commits).
 */
export const totalsProjection = (
  mode: HandlerMode,
  onApplied?: (eventId: string, partition: number) => void,
) =>
  defineProjection<CounterEvent, 'totals'>({
    name: 'bench_totals',
    version: 1,
    aggregateTypes: ['Counter'],
    tables: ['totals'],
    migrations: [
      {
        name: '0001',
        async up(_trx, migration) {
          await migration.createTable('totals', (table) => {
            table.text('counter_id').primary();
            table.bigInteger('total').notNullable();
            table.integer('version').notNullable();
          });
        },
      },
    ],
    ...(mode === 'batch'
      ? {
          // One statement per batch: totals summed and the last version taken per counter.
          async batchHandler(events, { trx, tables }) {
            const rows = new Map<string, { id: string; by: number; version: number }>();
            for (const event of events) {
              const row = rows.get(event.aggregateId);
              if (row === undefined)
                rows.set(event.aggregateId, {
                  id: event.aggregateId,
                  by: event.payload.by,
                  version: event.aggregateVersion,
                });
              else {
                row.by += event.payload.by;
                row.version = event.aggregateVersion;
              }
            }
            await trx.raw(
              `insert into ?? as t (counter_id, total, version)
               select r.id, r.by, r.version
                 from jsonb_to_recordset(?::jsonb) as r(id text, by bigint, version integer)
               on conflict (counter_id) do update set total = t.total + excluded.total, version = excluded.version`,
              [tables.totals, JSON.stringify([...rows.values()])],
            );
            if (onApplied !== undefined)
              for (const event of events) onApplied(event.eventId, event.position.partition);
          },
        }
      : {}),
    handlers: {
      async Incremented(event, { trx, tables }) {
        await trx.raw(
          `insert into ?? as t (counter_id, total, version) values (?, ?, ?)
           on conflict (counter_id) do update set total = t.total + excluded.total, version = excluded.version`,
          [tables.totals, event.aggregateId, event.payload.by, event.aggregateVersion],
        );
        onApplied?.(event.eventId, event.position.partition);
      },
    },
  });

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const wallClockMs = (): number => performance.timeOrigin + performance.now();
