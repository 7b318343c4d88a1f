/**
 * `npm run bench:projections`: throughput and latency of the projection runtime on the
 * real local stack (started if needed), with the raw baselines measured in the same run:
 *
 * 1. raw kafkajs batch consume rate (eachBatch doing nothing);
 * 2. raw batched upsert rate (knex, 500 rows per statement, one transaction per batch);
 * 3. events/s the runtime applies to a Postgres read model (one upsert per event);
 * 4. end-to-end latency from append commit (PostgreSQL outbox) → WAL capture → Kafka →
 *    projection commit, p50/p99, at a steady 2,000 events/s;
 * 5. peak RSS of this process.
 *
 * Tunables: BENCH_EVENTS (50,000), BENCH_RATE (2,000 events/s), BENCH_LATENCY_SECONDS (15),
 * BENCH_LINGER_MS (capturer linger of the end-to-end runs; default: the capturer's),
 * BENCH_BATCH_HANDLER=1 (the read model written by one set-based statement per batch).
 */
import {
  createPostgresKafkaCapturer,
  migrateOutbox,
  PostgresEventStore,
  resolveCaptureConfig,
} from '@tributary/outbox';
import { produceCounterEvents, upStack } from '@tributary/testing';
import { createKafkajsClient } from '@tributary/kafkajs';
import { Kafka, logLevel } from 'kafkajs';
import knexFactory from 'knex';
import type { DomainEvent } from '@tributary/core';
import { createProjectionMetrics } from '@tributary/metrics';
import { createProjectionRuntime, defineProjection } from '@tributary/projections';
import { Registry } from 'prom-client';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 50_000);
const RATE = Number(process.env['BENCH_RATE'] ?? 2_000);
const LATENCY_SECONDS = Number(process.env['BENCH_LATENCY_SECONDS'] ?? 15);
const PARTITIONS = 4;
/** `1`: the read model is written by a set-based batch handler instead of one upsert per event. */
const BATCH_HANDLER = process.env['BENCH_BATCH_HANDLER'] === '1';
/** Capturer `batch.lingerMs` for the end-to-end runs (default: the capturer's own default). */
const LINGER_MS =
  process.env['BENCH_LINGER_MS'] === undefined ? undefined : Number(process.env['BENCH_LINGER_MS']);

const log = (line: string): void => {
  process.stderr.write(`· ${line}\n`);
};
const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;

type CounterEvent = DomainEvent<'Incremented', { readonly by: number }>;

/** One upsert per event: the typical "running total" read model. */
const totalsProjection = (onApplied?: (eventId: string, partition: number) => void) =>
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
    ...(BATCH_HANDLER
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
            for (const event of events) onApplied?.(event.eventId, event.position.partition);
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

async function main(): Promise<void> {
  const { state } = await upStack({ log });
  const databaseUrl = state.databaseUrl;
  const brokers = state.kafkaBrokers;
  if (databaseUrl === undefined || brokers === undefined)
    throw new Error('the local stack has no database or Kafka');
  const run = `bench_${Date.now().toString(36)}`;
  const kafka = new Kafka({ clientId: run, brokers: [...brokers], logLevel: logLevel.NOTHING });
  const client = createKafkajsClient({ clientId: run, brokers });
  const knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 10 } });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `${run}.events.Counter`;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: PARTITIONS }],
  });
  const results: [string, string][] = [];
  const cleanups: (() => Promise<void>)[] = [];
  try {
    // Input: EVENTS records over 1,000 counters, in Kafka transactions of 500.
    let started = performance.now();
    await produceCounterEvents(client, topic, {
      counters: 1_000,
      versions: Math.ceil(EVENTS / 1_000),
      transactionSize: 500,
      transactionalId: `${run}-producer`,
    });
    log(`produced ${EVENTS} records in ${((performance.now() - started) / 1_000).toFixed(1)} s`);

    // 1. Raw kafkajs consume.
    {
      const consumer = kafka.consumer({ groupId: `${run}-raw` });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let consumed = 0;
      let first = 0;
      await consumer.run({
        partitionsConsumedConcurrently: PARTITIONS,
        eachBatch: async ({ batch }) => {
          if (first === 0) first = performance.now();
          consumed += batch.messages.length;
          await Promise.resolve();
        },
      });
      while (consumed < EVENTS) await sleep(20);
      const seconds = (performance.now() - first) / 1_000;
      await consumer.disconnect();
      results.push([
        'raw kafkajs batch consume',
        `${Math.round(EVENTS / seconds).toLocaleString('en-US')} records/s`,
      ]);
    }

    // 2. Raw batched upsert.
    {
      await knex.raw(
        `create table ${run}_raw (counter_id text primary key, total bigint not null, version integer not null)`,
      );
      cleanups.push(async () => {
        await knex.raw(`drop table if exists ${run}_raw`);
      });
      started = performance.now();
      const batchSize = 500;
      for (let offset = 0; offset < EVENTS; offset += batchSize) {
        const rows: { counter_id: string; total: number; version: number }[] = [];
        const seen = new Set<string>();
        for (let i = offset; i < Math.min(EVENTS, offset + batchSize); i += 1) {
          const counter = `c${i % 1_000}`;
          if (seen.has(counter)) continue; // one row per key per statement (ON CONFLICT rule)
          seen.add(counter);
          rows.push({ counter_id: counter, total: 1, version: Math.floor(i / 1_000) + 1 });
        }
        await knex.transaction(async (trx) => {
          await trx.raw(
            `insert into ${run}_raw as t (counter_id, total, version)
             select * from jsonb_to_recordset(?::jsonb) as r(counter_id text, total bigint, version integer)
             on conflict (counter_id) do update set total = t.total + excluded.total, version = excluded.version`,
            [JSON.stringify(rows)],
          );
        });
      }
      const seconds = (performance.now() - started) / 1_000;
      results.push([
        'raw batched upsert (500 rows/statement)',
        `${Math.round(EVENTS / seconds).toLocaleString('en-US')} rows/s`,
      ]);
    }

    // 3. The projection runtime applying the same records, with the Prometheus metrics off
    // and then on (rendered once a second, as a scrape would): metrics cost is the ratio.
    const applyRates: number[] = [];
    for (const metrics of [false, true]) {
      const pass = metrics ? 'm' : '';
      const config = {
        topicPrefix: `${run}.events`,
        groupIdPrefix: `${run}.apply${pass}`,
        schema: `${run}_rt${pass}`,
        readModelSchema: `${run}_rm${pass}`,
      };
      cleanups.push(async () => {
        await knex.raw(`drop schema if exists ${run}_rt${pass} cascade`);
        await knex.raw(`drop schema if exists ${run}_rm${pass} cascade`);
      });
      let applied = 0;
      const runtime = createProjectionRuntime({
        kafka: client,
        knex,
        projections: [totalsProjection()],
        config,
      });
      let scrape: NodeJS.Timeout | undefined;
      if (metrics) {
        const registry = new Registry();
        createProjectionMetrics({ registry, instrumentation: runtime.instrumentation });
        scrape = setInterval(() => void registry.metrics(), 1_000);
      }
      runtime.instrumentation.on('projection.batch.committed', (batch) => {
        applied += batch.applied;
      });
      started = performance.now();
      await runtime.start();
      while (applied < EVENTS) await sleep(20);
      const seconds = (performance.now() - started) / 1_000;
      clearInterval(scrape);
      await runtime.stop();
      applyRates.push(EVENTS / seconds);
      results.push([
        `projection runtime → Postgres read model, metrics ${metrics ? 'on' : 'off'}`,
        `${Math.round(EVENTS / seconds).toLocaleString('en-US')} events/s (${BATCH_HANDLER ? 'batch handler: one upsert per batch' : 'one upsert per event'}, 500 per transaction, incl. group join)`,
      ]);
    }
    const [off, on] = applyRates;
    if (off !== undefined && on !== undefined)
      results.push(['metrics on / off', `${((on / off) * 100).toFixed(1)} %`]);

    // 4. End-to-end latency through the outbox and the capturer at a steady rate, and at a
    // quarter of it (below the applier's capacity on a small machine).
    for (const rate of [RATE, RATE / 4]) {
      {
        const schema = `${run}_outbox_${rate}`;
        await migrateOutbox({ connectionString: databaseUrl, config: { schema } });
        const store = new PostgresEventStore({ connectionString: databaseUrl, config: { schema } });
        const capture = resolveCaptureConfig({
          name: `${run}_${rate}`,
          databaseUrl,
          outbox: { schema },
          kafka: { brokers: [...brokers] },
          topics: { partitions: PARTITIONS },
          router: { topicPrefix: `${run}.e2e${rate}` },
          heartbeatIntervalMs: 0,
          progressIntervalMs: 0,
          ...(LINGER_MS === undefined ? {} : { batch: { lingerMs: LINGER_MS } }),
        });
        const capturer = createPostgresKafkaCapturer({ config: capture, kafka: client });
        const capturing = capturer.run();
        cleanups.push(async () => {
          await capturer.stop();
          await capturing.catch(() => undefined);
          await knex.raw(
            'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ?',
            [capture.slot.name],
          );
          await knex.raw(`drop publication if exists "${capture.slot.publication}"`);
          await knex.raw(`drop schema if exists ${schema} cascade`);
          await store.close();
        });
        while (capturer.state !== 'streaming') await sleep(20);
        await admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic: `${run}.e2e${rate}.Counter`, numPartitions: PARTITIONS }],
        });
        const appendedAt = new Map<string, number>();
        const latencies: number[] = [];
        const pending = new Map<number, string[]>();
        const projection = totalsProjection((eventId, partition) => {
          const list = pending.get(partition) ?? [];
          list.push(eventId);
          pending.set(partition, list);
        });
        const runtime = createProjectionRuntime({
          kafka: client,
          knex,
          projections: [projection],
          config: {
            topicPrefix: `${run}.e2e${rate}`,
            groupIdPrefix: `${run}.e2e${rate}`,
            schema: `${run}_rt2_${rate}`,
            readModelSchema: `${run}_rm2_${rate}`,
          },
        });
        cleanups.push(async () => {
          await knex.raw(`drop schema if exists ${run}_rt2_${rate} cascade`);
          await knex.raw(`drop schema if exists ${run}_rm2_${rate} cascade`);
        });
        // Stamped right after the batch transaction committed (the event is emitted then).
        let batches = 0;
        let batchRecords = 0;
        let batchMs = 0;
        runtime.instrumentation.on('projection.batch.committed', (batch) => {
          const now = performance.now();
          batches += 1;
          batchRecords += batch.records;
          batchMs += batch.durationMs;
          for (const eventId of pending.get(batch.partition) ?? []) {
            const at = appendedAt.get(eventId);
            if (at !== undefined) latencies.push(now - at);
          }
          pending.set(batch.partition, []);
        });
        await runtime.start();
        await sleep(3_000); // let the group settle before measuring
        // Four appenders, each one append (one source transaction) of 10 events every 20 ms
        // to its own counters: rate events/s in total when rate = 2,000.
        const appenders = 4;
        const perAppend = 10;
        const interval = (1_000 * appenders * perAppend) / rate;
        const total = rate * LATENCY_SECONDS;
        started = performance.now();
        let sent = 0;
        await Promise.all(
          Array.from({ length: appenders }, async (_, appender) => {
            const versions = new Map<string, number>();
            for (let tick = 0; sent < total; tick += 1) {
              const wait = started + tick * interval - performance.now();
              if (wait > 0) await sleep(wait);
              const counter = `k${appender}_${tick % 100}`;
              const version = versions.get(counter) ?? 0;
              const result = await store.appendToStream(
                { aggregateType: 'Counter', aggregateId: counter },
                Array.from({ length: perAppend }, () => ({ type: 'Incremented', data: { by: 1 } })),
                { expectedVersion: version === 0 ? 'no-stream' : version },
              );
              const committedAt = performance.now();
              versions.set(counter, version + perAppend);
              for (const event of result.events) appendedAt.set(event.eventId, committedAt);
              sent += perAppend;
            }
          }),
        );
        const achieved = sent / ((performance.now() - started) / 1_000);
        const deadline = Date.now() + 60_000;
        while (latencies.length < sent && Date.now() < deadline) await sleep(50);
        await runtime.stop();
        const sorted = [...latencies].sort((a, b) => a - b);
        results.push([
          `end-to-end append commit → projection commit (${Math.round(achieved).toLocaleString('en-US')} events/s offered, ${sent.toLocaleString('en-US')} events)`,
          `p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${(sorted[sorted.length - 1] ?? Number.NaN).toFixed(0)} ms (${latencies.length} measured; ${batches} batches, ${(batchRecords / Math.max(1, batches)).toFixed(1)} records and ${(batchMs / Math.max(1, batches)).toFixed(1)} ms per batch)`,
        ]);
      }
    }
  } finally {
    for (const cleanup of cleanups.reverse())
      await cleanup().catch((error: unknown) => log(`cleanup: ${String(error)}`));
    const topics = (await admin.listTopics()).filter((name) => name.startsWith(`${run}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    await knex.destroy();
  }
  results.push(['peak RSS', `${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`]);
  const width = Math.max(...results.map(([name]) => name.length));
  process.stdout.write(
    `\nbench:projections (${EVENTS.toLocaleString('en-US')} events, ${PARTITIONS} partitions)\n`,
  );
  for (const [name, value] of results) process.stdout.write(`  ${name.padEnd(width)}  ${value}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
