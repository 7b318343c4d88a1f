/** Helpers shared by the outbox benchmarks (not part of the package's API). */
import type pg from 'pg';

/** The events per source transaction in a prefilled backlog. */
export const BACKLOG_EVENTS_PER_TRANSACTION = 10;

/** `url` with its database replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * Writes a backlog of about `events` outbox rows server-side (fast), in source transactions
 * of {@link BACKLOG_EVENTS_PER_TRANSACTION}, spread over five aggregate types and 1,000
 * aggregates with contiguous versions. Returns the number of events written.
 */
export async function prefillBacklog(client: pg.Client, events: number): Promise<number> {
  const transactions = Math.ceil(events / BACKLOG_EVENTS_PER_TRANSACTION);
  await client.query(`
    create or replace procedure bench_prefill(transactions int, per_tx int) language plpgsql as $$
    begin
      for t in 0 .. transactions - 1 loop
        insert into tributary.events
          (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, schema_version, payload, metadata, occurred_at)
        select gen_random_uuid(),
               (array['Account','Transfer','Order','Invoice','Shipment'])[1 + ((t * per_tx + i) % 5)],
               'agg-' || ((t * per_tx + i) % 1000),
               1 + (t * per_tx + i) / 1000,
               'LineAdded', 1,
               jsonb_build_object('orderId', 'order-' || t, 'lines', jsonb_build_array(jsonb_build_object('sku', 'SKU-1', 'quantity', 2, 'priceCents', 1999)), 'note', 'benchmark event with a realistic small payload'),
               jsonb_build_object('correlationId', gen_random_uuid()::text, 'causationId', gen_random_uuid()::text, 'userId', 'user-42'),
               now()
          from generate_series(0, per_tx - 1) i;
        commit;
      end loop;
    end $$`);
  await client.query('call bench_prefill($1, $2)', [transactions, BACKLOG_EVENTS_PER_TRANSACTION]);
  return transactions * BACKLOG_EVENTS_PER_TRANSACTION;
}

/**
 * Removes a benchmark database: stops its walsenders, drops its replication slots (a slot
 * left behind would pin WAL on the server forever), drops the database and closes `admin`.
 */
export async function dropBenchDatabase(admin: pg.Client, database: string): Promise<void> {
  await admin.query(
    `select pg_terminate_backend(active_pid) from pg_replication_slots where database = $1 and active_pid is not null`,
    [database],
  );
  // The terminated walsenders release their slots asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await admin
    .query(
      `select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = $1`,
      [database],
    )
    .catch(() => undefined);
  await admin.query(`drop database if exists "${database}" with (force)`).catch(() => undefined);
  await admin.end();
}
