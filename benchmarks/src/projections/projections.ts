/**
 * `npm run bench:projections`: throughput and latency of the projection runtime on the
 * real local stack (started if needed), with the raw baselines measured in the same run:
 *
 * 1. raw kafkajs batch consume rate (eachBatch doing nothing);
 * 2. raw batched upsert rate (knex, 500 rows per statement, one transaction per batch), and
 *    the one-statement-per-event ceiling: single-row upserts over 4 connections through knex
 *    `trx.raw`, bare `pg` and `pg` prepared statements, with the client CPU per statement;
 * 3. events/s the runtime applies to a Postgres read model, for each handler mode
 *    (`per-event`: one upsert per event; `batch`: one set-based upsert per batch);
 * 4. end-to-end latency, append commit (PostgreSQL outbox) → WAL capture → Kafka →
 *    projection commit, p50/p99, at each offered rate and handler mode. The appends come
 *    from a SEPARATE load process (`load.ts`, through `PostgresEventStore`) and the
 *    capturer runs in its own child process, so this process's thread runs only the
 *    projection runtime (and the bookkeeping of the measurement).
 *
 * Tunables: BENCH_EVENTS (50,000), BENCH_RATES (2000,5000 events/s), BENCH_LATENCY_SECONDS
 * (15), BENCH_HANDLERS (per-event,batch), BENCH_APPENDERS (8), BENCH_EVENTS_PER_APPEND (10),
 * BENCH_LINGER_MS (capturer linger; default the capturer's), BENCH_METRICS=1 (also apply
 * with the Prometheus metrics on, and print the ratio), BENCH_KAFKA_CLIENT (kafkajs or
 * platformatic: the runtime's client; default kafkajs), BENCH_SKIP (comma list of `raw`,
 * `throughput`, `e2e`), BENCH_E2E_SPLIT=1 (a second, raw read_committed consumer in this
 * process stamps when each event becomes visible in Kafka, splitting the end-to-end latency
 * into append → Kafka and Kafka → projection commit; it costs this process CPU, so the
 * runtime's CPU figure is then too high), BENCH_CPU_PROFILE (a directory: writes a V8 CPU profile of each
 * throughput pass there, from the runtime's start to its last commit, for Chrome DevTools
 * or `speedscope`).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureConfigFromEnvironment, createKafkaClient, kafkaClientName } from '@tributary/cli';
import { migrateOutbox, resolveCaptureConfig } from '@tributary/outbox';
import { produceCounterEvents, upStack } from '@tributary/testing';
import { Kafka, logLevel } from 'kafkajs';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { createProjectionMetrics } from '@tributary/metrics';
import { createProjectionRuntime } from '@tributary/projections';
import { Registry } from 'prom-client';
import type { KafkaClient } from '@tributary/core';
import { startChild, stopChild } from './children.js';
import {
  handlerModes,
  totalsProjection,
  wallClockMs,
  type HandlerMode,
} from './totals-projection.js';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 50_000);
const RATES = (process.env['BENCH_RATES'] ?? '2000,5000').split(',').map(Number);
const LATENCY_SECONDS = Number(process.env['BENCH_LATENCY_SECONDS'] ?? 15);
const MODES = handlerModes(process.env['BENCH_HANDLERS']);
const APPENDERS = Number(process.env['BENCH_APPENDERS'] ?? 8);
const EVENTS_PER_APPEND = Number(process.env['BENCH_EVENTS_PER_APPEND'] ?? 10);
const METRICS = process.env['BENCH_METRICS'] === '1';
const SKIP = new Set((process.env['BENCH_SKIP'] ?? '').split(','));
const PARTITIONS = 4;
const CPU_PROFILE_DIR = process.env['BENCH_CPU_PROFILE'];
const E2E_SPLIT = process.env['BENCH_E2E_SPLIT'] === '1';
/** Capturer `batch.lingerMs` for the end-to-end runs (default: the capturer's own default). */
const LINGER_MS = process.env['BENCH_LINGER_MS'];
/** The p99 targets of issue #14 by offered rate. */
const P99_TARGET_MS = new Map([
  [2_000, 100],
  [5_000, 250],
]);
const THROUGHPUT_TARGET = { 'per-event': 10_000, batch: 30_000 } as const;

const log = (line: string): void => {
  process.stderr.write(`· ${line}\n`);
};
const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
const count = (value: number): string => Math.round(value).toLocaleString('en-US');

interface Bench {
  readonly run: string;
  readonly databaseUrl: string;
  readonly brokers: readonly string[];
  readonly kafka: Kafka;
  readonly client: KafkaClient;
  readonly knex: Knex;
  readonly admin: ReturnType<Kafka['admin']>;
  readonly results: [string, string][];
  readonly cleanups: (() => Promise<void>)[];
}

async function main(): Promise<void> {
  const { state } = await upStack({ log });
  const databaseUrl = state.databaseUrl;
  const brokers = state.kafkaBrokers;
  if (databaseUrl === undefined || brokers === undefined)
    throw new Error('the local stack has no database or Kafka');
  const run = `bench_${Date.now().toString(36)}`;
  const clientName = kafkaClientName({
    value: process.env['BENCH_KAFKA_CLIENT'],
    source: 'BENCH_KAFKA_CLIENT',
  });
  const bench: Bench = {
    run,
    databaseUrl,
    brokers,
    kafka: new Kafka({ clientId: run, brokers: [...brokers], logLevel: logLevel.NOTHING }),
    client: createKafkaClient(clientName, { clientId: run, brokers }),
    knex: knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 10 } }),
    admin: undefined as unknown as ReturnType<Kafka['admin']>,
    results: [],
    cleanups: [],
  };
  const admin = bench.kafka.admin();
  Object.assign(bench, { admin });
  await admin.connect();
  try {
    if (!SKIP.has('raw') || !SKIP.has('throughput')) await throughputRuns(bench);
    if (!SKIP.has('e2e'))
      for (const mode of MODES) for (const rate of RATES) await endToEnd(bench, mode, rate);
  } finally {
    for (const cleanup of bench.cleanups.reverse())
      await cleanup().catch((error: unknown) => log(`cleanup: ${String(error)}`));
    const topics = (await admin.listTopics()).filter((name) => name.startsWith(`${run}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    await bench.knex.destroy();
  }
  bench.results.push([
    'peak RSS of the runtime process',
    `${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`,
  ]);
  const width = Math.max(...bench.results.map(([name]) => name.length));
  process.stdout.write(
    `\nbench:projections (${count(EVENTS)} events, ${PARTITIONS} partitions, runtime on ${clientName})\n`,
  );
  for (const [name, value] of bench.results)
    process.stdout.write(`  ${name.padEnd(width)}  ${value}\n`);
}

/** The raw baselines and the runtime's throughput on a prefilled topic. */
async function throughputRuns(bench: Bench): Promise<void> {
  const { run, kafka, client, knex, results, cleanups } = bench;
  const topic = `${run}.events.Counter`;
  await bench.admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: PARTITIONS }],
  });
  // Input: EVENTS records over 1,000 counters, in Kafka transactions of 500.
  let started = performance.now();
  await produceCounterEvents(client, topic, {
    counters: 1_000,
    versions: Math.ceil(EVENTS / 1_000),
    transactionSize: 500,
    transactionalId: `${run}-producer`,
  });
  log(`produced ${EVENTS} records in ${((performance.now() - started) / 1_000).toFixed(1)} s`);

  if (!SKIP.has('raw')) {
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
    results.push(['raw kafkajs batch consume', `${count(EVENTS / seconds)} records/s`]);

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
    const seconds2 = (performance.now() - started) / 1_000;
    results.push(['raw batched upsert (500 rows/statement)', `${count(EVENTS / seconds2)} rows/s`]);
    await statementCeiling(bench);
  }
  if (SKIP.has('throughput')) return;

  // The runtime applying the same records; with BENCH_METRICS=1 a second pass with the
  // Prometheus metrics on (rendered once a second, as a scrape would).
  for (const mode of MODES) {
    const applyRates: number[] = [];
    for (const metrics of METRICS ? [false, true] : [false]) {
      const pass = `${mode === 'batch' ? 'b' : 'e'}${metrics ? 'm' : ''}`;
      const config = {
        topicPrefix: `${run}.events`,
        groupIdPrefix: `${run}.apply${pass}`,
        schema: `${run}_rt${pass}`,
        readModelSchema: `${run}_rm${pass}`,
      };
      cleanups.push(async () => {
        await knex.raw(`drop schema if exists ${config.schema} cascade`);
        await knex.raw(`drop schema if exists ${config.readModelSchema} cascade`);
      });
      let applied = 0;
      let batches = 0;
      let firstCommit = 0;
      const runtime = createProjectionRuntime({
        kafka: client,
        knex,
        projections: [totalsProjection(mode)],
        config,
      });
      let scrape: NodeJS.Timeout | undefined;
      if (metrics) {
        const registry = new Registry();
        createProjectionMetrics({ registry, instrumentation: runtime.instrumentation });
        scrape = setInterval(() => void registry.metrics(), 1_000);
      }
      runtime.instrumentation.on('projection.batch.committed', (batch) => {
        if (firstCommit === 0) firstCommit = performance.now();
        applied += batch.applied;
        batches += 1;
      });
      const profiler = CPU_PROFILE_DIR === undefined ? undefined : await startProfile();
      started = performance.now();
      const cpu = process.cpuUsage();
      await runtime.start();
      while (applied < EVENTS) await sleep(20);
      const ended = performance.now();
      const used = process.cpuUsage(cpu);
      if (profiler !== undefined && CPU_PROFILE_DIR !== undefined)
        await stopProfile(profiler, join(CPU_PROFILE_DIR, `projections-${pass}.cpuprofile`));
      const seconds = (ended - started) / 1_000;
      clearInterval(scrape);
      await runtime.stop();
      applyRates.push(EVENTS / seconds);
      results.push([
        `runtime → read model, ${mode} handler${metrics ? ', metrics on' : ''}`,
        `${count(EVENTS / seconds)} events/s incl. group join (target ${count(THROUGHPUT_TARGET[mode])}); ${count(EVENTS / ((ended - firstCommit) / 1_000))}/s from the first commit; ${count(EVENTS / batches)} per batch; ${((used.user + used.system) / EVENTS).toFixed(1)} µs CPU per event in this process`,
      ]);
    }
    const [off, on] = applyRates;
    if (off !== undefined && on !== undefined)
      results.push([`metrics on / off, ${mode} handler`, `${((on / off) * 100).toFixed(1)} %`]);
  }
}

/**
 * A raw read_committed consumer that stamps when each event id becomes readable in Kafka
 * (BENCH_E2E_SPLIT=1); stopped with the run's cleanups.
 */
async function kafkaProbe(bench: Bench, topic: string): Promise<Map<string, number>> {
  const visible = new Map<string, number>();
  const consumer = bench.kafka.consumer({
    groupId: `${topic}.probe`,
    maxWaitTimeInMs: 20,
    readUncommitted: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch }) => {
      const now = wallClockMs();
      for (const message of batch.messages) {
        const id = message.headers?.['tributary.event_id'];
        if (id !== undefined) visible.set(String(id), now);
      }
      await Promise.resolve();
    },
  });
  bench.cleanups.push(() => consumer.disconnect());
  return visible;
}

async function startProfile(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return session;
}

async function stopProfile(session: Session, file: string): Promise<void> {
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  await mkdir(CPU_PROFILE_DIR ?? '.', { recursive: true });
  await writeFile(file, JSON.stringify(profile));
  log(`CPU profile written to ${file}`);
}

/**
 * What one single-row upsert per event can reach on this machine at all, without the
 * runtime: 4 connections (like the runtime's 4 partitions), one transaction each, through
 * knex `trx.raw` (what a per-event handler does), bare `pg`, and `pg` named (prepared)
 * statements.
 */
async function statementCeiling(bench: Bench): Promise<void> {
  const { run, knex, databaseUrl, results, cleanups } = bench;
  const table = `${run}_ceiling`;
  const statements = Math.min(EVENTS, 10_000);
  const connections = 4;
  await knex.raw(
    `create table ${table} (counter_id text primary key, total bigint not null, version integer not null)`,
  );
  cleanups.push(async () => {
    await knex.raw(`drop table if exists ${table}`);
  });
  const upsert = (placeholders: string): string =>
    `insert into ${table} as t (counter_id, total, version) values (${placeholders})
     on conflict (counter_id) do update set total = t.total + excluded.total, version = excluded.version`;
  // Each connection writes its own counters (no lock waits between them).
  // Two rounds, the first only warms the JIT of every path up (unreported).
  let report = false;
  const measure = async (name: string, work: (connection: number) => Promise<void>) => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(Array.from({ length: connections }, (_, connection) => work(connection)));
    const seconds = (performance.now() - started) / 1_000;
    const used = process.cpuUsage(cpu);
    if (report)
      results.push([
        `one upsert per event, ${name}`,
        `${count(statements / seconds)} statements/s, ${((used.user + used.system) / statements).toFixed(1)} µs client CPU per statement`,
      ]);
  };
  for (const round of [1, 2]) {
    report = round === 2;
    await ceilingRound(measure, knex, databaseUrl, statements, connections, upsert);
  }
}

async function ceilingRound(
  measure: (name: string, work: (connection: number) => Promise<void>) => Promise<void>,
  knex: Knex,
  databaseUrl: string,
  statements: number,
  connections: number,
  upsert: (placeholders: string) => string,
): Promise<void> {
  await measure('knex trx.raw', async (connection) => {
    await knex.transaction(async (trx) => {
      for (let i = connection; i < statements; i += connections)
        await trx.raw(upsert('?, ?, ?'), [`c${i % 1_000}`, 1, i]);
    });
  });
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      return client;
    }),
  );
  try {
    for (const prepared of [false, true]) {
      await measure(prepared ? 'pg prepared' : 'bare pg', async (connection) => {
        const client = clients[connection];
        if (client === undefined) return;
        await client.query('begin');
        for (let i = connection; i < statements; i += connections) {
          const values = [`c${i % 1_000}`, 1, i];
          const text = upsert('$1, $2, $3');
          await client.query(prepared ? { name: 'ceiling', text, values } : { text, values });
        }
        await client.query('commit');
      });
    }
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
}

/** One end-to-end run: load process → outbox → capture process → Kafka → this runtime. */
async function endToEnd(bench: Bench, mode: HandlerMode, rate: number): Promise<void> {
  const { run, databaseUrl, brokers, client, knex, results, cleanups } = bench;
  const tag = `${mode === 'batch' ? 'b' : 'e'}${rate}`;
  const schema = `${run}_outbox_${tag}`;
  const topicPrefix = `${run}.e2e${tag}`;
  log(`end to end: ${mode} handlers, ${rate} events/s offered for ${LATENCY_SECONDS} s`);
  await migrateOutbox({ connectionString: databaseUrl, config: { schema } });
  const captureEnv: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: brokers.join(','),
    TRIBUTARY_CAPTURE_NAME: `${run}_${tag}`,
    TRIBUTARY_SCHEMA: schema,
    TRIBUTARY_TOPIC_PREFIX: topicPrefix,
    TRIBUTARY_TOPIC_PARTITIONS: String(PARTITIONS),
    TRIBUTARY_HEARTBEAT_INTERVAL_MS: '0',
    TRIBUTARY_PROGRESS_INTERVAL_MS: '0',
    ...(LINGER_MS === undefined ? {} : { TRIBUTARY_BATCH_LINGER_MS: LINGER_MS }),
  };
  const capture = resolveCaptureConfig(captureConfigFromEnvironment(captureEnv));
  const capturer = startChild('../capture/capture-child.ts', captureEnv);
  cleanups.push(async () => {
    await stopChild(capturer);
    await knex.raw(
      'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ?',
      [capture.slot.name],
    );
    await knex.raw(`drop publication if exists "${capture.slot.publication}"`);
    await knex.raw(`drop schema if exists ${schema} cascade`);
  });
  await capturer.next('ready');
  await bench.admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic: `${topicPrefix}.Counter`, numPartitions: PARTITIONS }],
  });

  const projectedAt = new Map<string, number>();
  const pending = new Map<number, string[]>();
  const runtime = createProjectionRuntime({
    kafka: client,
    knex,
    projections: [
      totalsProjection(mode, (eventId, partition) => {
        const list = pending.get(partition);
        if (list === undefined) pending.set(partition, [eventId]);
        else list.push(eventId);
      }),
    ],
    config: {
      topicPrefix,
      groupIdPrefix: topicPrefix,
      schema: `${run}_rt_${tag}`,
      readModelSchema: `${run}_rm_${tag}`,
    },
  });
  cleanups.push(async () => {
    await knex.raw(`drop schema if exists ${run}_rt_${tag} cascade`);
    await knex.raw(`drop schema if exists ${run}_rm_${tag} cascade`);
  });
  let batches = 0;
  let batchRecords = 0;
  let batchMs = 0;
  // Stamped right after the batch transaction committed (the event is emitted then).
  runtime.instrumentation.on('projection.batch.committed', (batch) => {
    const now = wallClockMs();
    batches += 1;
    batchRecords += batch.records;
    batchMs += batch.durationMs;
    for (const eventId of pending.get(batch.partition) ?? []) projectedAt.set(eventId, now);
    pending.set(batch.partition, []);
  });
  await runtime.start();
  const visibleAt = E2E_SPLIT ? await kafkaProbe(bench, `${topicPrefix}.Counter`) : undefined;
  await sleep(3_000); // let the group settle before measuring

  const out = join(tmpdir(), `${run}_${tag}_appends.json`);
  cleanups.push(() => rm(out, { force: true }));
  const cpu = process.cpuUsage();
  const load = startChild('./load.ts', {
    DATABASE_URL: databaseUrl,
    OUTBOX_SCHEMA: schema,
    RATE: String(rate),
    SECONDS: String(LATENCY_SECONDS),
    APPENDERS: String(APPENDERS),
    EVENTS_PER_APPEND: String(EVENTS_PER_APPEND),
    OUT: out,
  });
  const code = await load.exited;
  const report = load.lines.at(-1) as
    { sent: number; offered: number; appendP50Ms: number; appendP99Ms: number } | undefined;
  if (code !== 0 || report === undefined) throw new Error(`the load process failed (${code})`);
  const deadline = Date.now() + 60_000;
  while (projectedAt.size < report.sent && Date.now() < deadline) await sleep(50);
  const used = process.cpuUsage(cpu);
  await runtime.stop();
  await stopChild(capturer);
  const committed = JSON.parse(await readFile(out, 'utf8')) as [string, number][];
  const latencies: number[] = [];
  for (const [eventId, at] of committed) {
    const projected = projectedAt.get(eventId);
    if (projected !== undefined) latencies.push(projected - at);
  }
  latencies.sort((a, b) => a - b);
  if (visibleAt !== undefined) {
    const toKafka: number[] = [];
    const fromKafka: number[] = [];
    for (const [eventId, at] of committed) {
      const visible = visibleAt.get(eventId);
      const projected = projectedAt.get(eventId);
      if (visible === undefined || projected === undefined) continue;
      toKafka.push(visible - at);
      fromKafka.push(projected - visible);
    }
    toKafka.sort((a, b) => a - b);
    fromKafka.sort((a, b) => a - b);
    const split = (values: number[]): string =>
      `p50 ${percentile(values, 50).toFixed(0)} ms, p99 ${percentile(values, 99).toFixed(0)} ms`;
    results.push([
      `  split, ${mode} handler, ${count(rate)}/s`,
      `append commit → visible in Kafka ${split(toKafka)}; visible in Kafka → projection commit ${split(fromKafka)} (${toKafka.length} events)`,
    ]);
  }
  const target = P99_TARGET_MS.get(rate);
  results.push([
    `end to end, ${mode} handler, ${count(rate)}/s target rate, ${count(report.offered)}/s offered`,
    `p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms${target === undefined ? '' : ` (target ≤ ${target} ms)`}, max ${(latencies.at(-1) ?? Number.NaN).toFixed(0)} ms; ${latencies.length} of ${report.sent} measured; ${batches} batches of ${(batchRecords / Math.max(1, batches)).toFixed(1)} records, ${(batchMs / Math.max(1, batches)).toFixed(1)} ms each; runtime CPU ${((used.user + used.system) / Math.max(1, latencies.length)).toFixed(0)} µs/event; append p50 ${report.appendP50Ms.toFixed(1)} ms, p99 ${report.appendP99Ms.toFixed(1)} ms`,
  ]);
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
