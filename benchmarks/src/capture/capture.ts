/**
 * One file on purpose: one benchmark program whose measurements share the same backlog,
 * servers and summary table, in the order they run.
 *
 * `npm run bench:capture`: throughput, latency and memory of the WAL capturer, next to the
 * raw speed of its two libraries measured in the same run on the same servers:
 *
 * 1. raw pgoutput decode rate (pg-logical-replication, no Kafka) of the backlog;
 * 2. raw kafkajs idempotent batched produce rate (no PostgreSQL) of records shaped like ours;
 * 3. capture draining the pre-filled backlog (events/s, capture process peak RSS);
 * 4. capture under concurrent writers (events/s sustained, commit-to-Kafka p50/p99);
 * 5. optionally (BENCH_PROFILE=1, default on) a CPU profile of another drain, summarized.
 *
 * Uses DATABASE_URL and KAFKA_BROKERS when set, else the local stack (started if needed).
 * Tunables: BENCH_EVENTS (backlog, default 200000), BENCH_SUSTAINED_MS (default 10000),
 * BENCH_WRITERS (default 4), BENCH_PROFILE (default 1).
 */
import { spawn } from 'node:child_process';
import {
  BACKLOG_EVENTS_PER_TRANSACTION,
  prefillBacklog,
  dropBenchDatabase,
  withDatabase,
} from '../support/bench-database.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { uuidV7, type StreamAppend } from '@tributary/core';
import { upStack } from '@tributary/testing';
import { Kafka, logLevel } from 'kafkajs';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import pg from 'pg';
import { migrateOutbox, PostgresEventStore } from '@tributary/outbox';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const SUSTAINED_MS = Number(process.env.BENCH_SUSTAINED_MS ?? 10_000);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 4);
const PROFILE = (process.env.BENCH_PROFILE ?? '1') !== '0';

const TYPES = ['Account', 'Transfer', 'Order', 'Invoice', 'Shipment'];
const CHILD = fileURLToPath(new URL('./capture-child.ts', import.meta.url));
const RAW_PRODUCE = fileURLToPath(new URL('./raw-produce.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const rate = (events: number, ms: number): number => Math.round((events * 1000) / ms);

async function servers(): Promise<{ databaseUrl: string; brokers: string[] }> {
  if (process.env.DATABASE_URL && process.env.KAFKA_BROKERS) {
    return { databaseUrl: process.env.DATABASE_URL, brokers: process.env.KAFKA_BROKERS.split(',') };
  }
  out('DATABASE_URL/KAFKA_BROKERS not set: using the local stack (npm run stack:up)…');
  const { state } = await upStack({ log: (line: string) => out(`  ${line}`) });
  if (state.databaseUrl === undefined || state.kafkaBrokers === undefined) {
    throw new Error('the local stack has no database or Kafka');
  }
  return { databaseUrl: state.databaseUrl, brokers: [...state.kafkaBrokers] };
}

async function rawDecode(
  databaseUrl: string,
  slot: string,
  publication: string,
  events: number,
): Promise<number> {
  const service = new LogicalReplicationService(
    { connectionString: databaseUrl },
    { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
  );
  let inserts = 0;
  let first = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  service.on('data', (_lsn: string, message: Pgoutput.Message) => {
    if (message.tag !== 'insert') return;
    if (inserts === 0) first = performance.now();
    inserts += 1;
    if (inserts === events) done();
  });
  service.on('error', () => undefined);
  const streaming = service.subscribe(
    new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] }),
    slot,
  );
  await finished;
  const ms = performance.now() - first;
  await service.stop();
  await streaming.catch(() => undefined);
  return rate(events, ms);
}

/** Raw kafkajs idempotent batched produce, in a child process (see raw-produce.ts). */
async function rawProduce(
  brokers: string[],
  prefix: string,
  events: number,
  mode: 'stock' | 'fast',
): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      RAW_PRODUCE,
      brokers.join(','),
      prefix,
      String(events),
      mode,
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise((resolve) => child.once('exit', resolve));
  return (JSON.parse(output) as { eventsPerSecond: number }).eventsPerSecond;
}

interface BatchLine {
  readonly type: 'batch';
  readonly at: number;
  readonly events: number;
  readonly latencies: number[];
  readonly eventsPerTransaction: number[];
}

interface CaptureRun {
  readonly readyAt: Promise<number>;
  readonly batches: BatchLine[];
  readonly published: () => number;
  stop(): Promise<{ maxRssKb: number }>;
}

function startCapture(env: Record<string, string>, profileDir?: string): CaptureRun {
  const args = ['--conditions=source', '--import', 'tsx'];
  if (profileDir !== undefined) args.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
  const child = spawn(process.execPath, [...args, CHILD], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const batches: BatchLine[] = [];
  let published = 0;
  let ready: (at: number) => void = () => undefined;
  const readyAt = new Promise<number>((resolve) => {
    ready = resolve;
  });
  let stopped: (summary: { maxRssKb: number }) => void = () => undefined;
  const summary = new Promise<{ maxRssKb: number }>((resolve) => {
    stopped = resolve;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line) as { type: string; at?: number; maxRssKb?: number };
    if (message.type === 'ready') ready(message.at ?? Date.now());
    if (message.type === 'batch') {
      const batch = message as BatchLine;
      batches.push(batch);
      published += batch.events;
    }
    if (message.type === 'stopped') stopped({ maxRssKb: message.maxRssKb ?? 0 });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    readyAt,
    batches,
    published: () => published,
    async stop() {
      child.kill('SIGTERM');
      const result = await Promise.race([summary, exited.then(() => ({ maxRssKb: 0 }))]);
      await exited;
      return result;
    },
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self time per package and per function of a .cpuprofile. */
function summarizeProfile(file: string): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    startTime: number;
    endTime: number;
    samples: number[];
  };
  const perSample =
    (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const total = profile.samples.length;
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { url, functionName, lineNumber } = node.callFrame;
    const pkg =
      url === ''
        ? functionName === '(idle)'
          ? '(idle)'
          : functionName === '(garbage collector)'
            ? '(gc)'
            : '(native/V8)'
        : url.includes('/node_modules/')
          ? (/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? 'node_modules')
          : url.startsWith('node:')
            ? 'node core'
            : url.includes('/packages/')
              ? `tributary ${/packages\/([^/]+)/.exec(url)?.[1] ?? ''}`
              : basename(url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
    const name = `${functionName || '(anonymous)'} ${url === '' ? '' : `${basename(url)}:${lineNumber + 1}`}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  }
  const lines = [`  ${total} samples, ${((total * perSample) / 1000).toFixed(1)} s`];
  lines.push('  self time by package:');
  for (const [name, hits] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
    lines.push(`    ${((hits / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
  }
  lines.push('  top functions (self time):');
  for (const [name, hits] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    lines.push(`    ${((hits / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
  }
  return lines;
}

async function waitForPublished(run: CaptureRun, events: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (run.published() < events) {
    if (Date.now() > deadline) throw new Error(`capture published ${run.published()} of ${events}`);
    await sleep(20);
  }
}

async function main(): Promise<void> {
  const { databaseUrl: serverUrl, brokers } = await servers();
  const id = randomBytes(4).toString('hex');
  const database = `bench_capture_${id}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database "${database}"`);
  const databaseUrl = withDatabase(serverUrl, database);
  const client = new pg.Client({ connectionString: databaseUrl });
  const kafkaAdmin = new Kafka({
    clientId: 'bench-admin',
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  const prefix = `bench_${id}`;
  try {
    await client.connect();
    await kafkaAdmin.connect();
    await migrateOutbox({ connectionString: databaseUrl });
    const publication = `bench_${id}`;
    await client.query(
      `create publication "${publication}" for table tributary.events with (publish = 'insert')`,
    );
    const slots = {
      decode: `bench_${id}_decode`,
      capture: `tributary_bench_${id}`,
      profile: `tributary_benchprof_${id}`,
      metrics: `tributary_benchmet_${id}`,
    };
    for (const slot of Object.values(slots)) {
      await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    }
    out(
      `\nbench:capture — backlog ${EVENTS} events in transactions of ${BACKLOG_EVENTS_PER_TRANSACTION}, ${TYPES.length} aggregate types × 3 partitions`,
    );
    const prefillStart = performance.now();
    await prefillBacklog(client, EVENTS);
    out(`  prefilled in ${((performance.now() - prefillStart) / 1000).toFixed(1)} s`);

    const decodeRate = await rawDecode(databaseUrl, slots.decode, publication, EVENTS);
    out(`  raw pgoutput decode: ${decodeRate} events/s`);
    const produceRate = await rawProduce(brokers, prefix, EVENTS, 'stock');
    out(`  raw kafkajs idempotent batched produce: ${produceRate} events/s`);
    const fastProduceRate = await rawProduce(brokers, prefix, EVENTS, 'fast');
    out(
      `  raw kafkajs idempotent batched produce with Tributary's record encoder: ${fastProduceRate} events/s`,
    );

    const captureEnv = (name: string): Record<string, string> => ({
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: brokers.join(','),
      TRIBUTARY_CAPTURE_NAME: name,
      TRIBUTARY_PUBLICATION: publication,
      TRIBUTARY_TOPIC_PREFIX: `${prefix}.${name}`,
      TRIBUTARY_CHECKPOINT_TOPIC: `${prefix}.checkpoints`,
      TRIBUTARY_PROGRESS_INTERVAL_MS: '0',
    });

    // Drain the backlog.
    const run = startCapture(captureEnv(`bench_${id}`));
    const readyAt = await run.readyAt;
    await waitForPublished(run, EVENTS, 300_000);
    const drainEnd = run.batches.at(-1)?.at ?? Date.now();
    const drainFirst = run.batches[0]?.at ?? readyAt;
    const drainRate = rate(EVENTS, drainEnd - readyAt);
    const drainBatches = run.batches.length;
    out(
      `  capture drain: ${drainRate} events/s (${drainBatches} Kafka transactions, ${((drainEnd - readyAt) / 1000).toFixed(2)} s from checkpoint loaded to last commit; first commit after ${drainFirst - readyAt} ms)`,
    );

    // Sustained, under concurrent writers.
    const store = new PostgresEventStore({ connectionString: databaseUrl });
    let written = 0;
    const startIndex = run.batches.length;
    const writeStart = performance.now();
    const deadline = writeStart + SUSTAINED_MS;
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, writer) => {
        const versions = new Map<string, number>();
        for (let n = 0; performance.now() < deadline; n += 1) {
          const appends: StreamAppend[] = [0, 1, 2, 3].map((part) => {
            const aggregateId = `w${writer}-${(n * 4 + part) % 100}`;
            const aggregateType = TYPES[(n + part) % TYPES.length] ?? 'Account';
            const key = `${aggregateType}/${aggregateId}`;
            const version = versions.get(key) ?? 0;
            versions.set(key, version + 5);
            return {
              stream: { aggregateType, aggregateId },
              expectedVersion: version === 0 ? 'no-stream' : version,
              events: Array.from({ length: 5 }, () => ({
                type: 'LineAdded',
                data: {
                  sku: 'SKU-1',
                  quantity: 2,
                  priceCents: 1999,
                  note: 'sustained benchmark event',
                },
                metadata: { correlationId: uuidV7(), userId: 'user-42' },
              })),
            };
          });
          await store.appendMany(appends);
          written += 20;
        }
      }),
    );
    const writeMs = performance.now() - writeStart;
    await waitForPublished(run, EVENTS + written, 120_000);
    const catchUpMs = performance.now() - writeStart;
    await store.close();
    const sustained = run.batches.slice(startIndex);
    const latencies = sustained.flatMap((batch) => batch.latencies);
    const { maxRssKb } = await run.stop();
    out(
      `  sustained: writers committed ${rate(written, writeMs)} events/s (${WRITERS} writers, transactions of 20 events over 4 aggregates); capture published them at ${rate(written, catchUpMs)} events/s (${sustained.length} Kafka transactions; all in Kafka ${Math.round(catchUpMs - writeMs)} ms after the last write)`,
    );
    out(
      `  commit-to-Kafka latency under load: p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms (${latencies.length} source transactions)`,
    );
    out(`  capture process peak RSS: ${(maxRssKb / 1024).toFixed(0)} MiB`);

    out('');
    out('  summary');
    out(`    raw pgoutput decode            ${String(decodeRate).padStart(8)} events/s`);
    out(`    raw kafkajs idempotent produce ${String(produceRate).padStart(8)} events/s`);
    out(`    raw produce, our encoder       ${String(fastProduceRate).padStart(8)} events/s`);
    out(
      `    capture drain                  ${String(drainRate).padStart(8)} events/s  (${(drainRate / produceRate).toFixed(2)} × raw produce, ${(drainRate / fastProduceRate).toFixed(2)} × raw produce with the same encoder, ${(drainRate / decodeRate).toFixed(2)} × raw decode)`,
    );
    out(
      `    capture sustained              ${String(rate(written, catchUpMs)).padStart(8)} events/s  (writers: ${rate(written, writeMs)} events/s)`,
    );
    out(
      `    commit-to-Kafka p50 / p99      ${percentile(latencies, 50).toFixed(0)} / ${percentile(latencies, 99).toFixed(0)} ms`,
    );
    out(`    capture peak RSS               ${(maxRssKb / 1024).toFixed(0)} MiB`);

    // The same backlog (and the sustained writes) drained again, with the Prometheus metrics
    // on: the cost of metrics is the ratio of the two drains, measured in the same run.
    const metered = startCapture({ ...captureEnv(`benchmet_${id}`), BENCH_METRICS: '1' });
    const meteredReadyAt = await metered.readyAt;
    await waitForPublished(metered, EVENTS + written, 300_000);
    const meteredEnd = metered.batches.at(-1)?.at ?? Date.now();
    const meteredRate = rate(EVENTS + written, meteredEnd - meteredReadyAt);
    await metered.stop();
    const unmeteredRate = rate(EVENTS, drainEnd - readyAt);
    out(
      `    capture drain, metrics off / on ${String(unmeteredRate).padStart(7)} / ${meteredRate} events/s  (on = ${((meteredRate / unmeteredRate) * 100).toFixed(1)} % of off; the on run also drains the sustained writes)`,
    );

    if (PROFILE) {
      const dir = mkdtempSync(join(tmpdir(), 'tributary-capture-profile-'));
      const profiled = startCapture(captureEnv(`benchprof_${id}`), dir);
      await profiled.readyAt;
      await waitForPublished(profiled, EVENTS + written, 300_000);
      await profiled.stop();
      const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
      out('');
      out(
        `  CPU profile of a second drain (node --cpu-prof): ${file === undefined ? 'missing' : join(dir, file)}`,
      );
      if (file !== undefined) for (const line of summarizeProfile(join(dir, file))) out(line);
    }
  } finally {
    await client.end().catch(() => undefined);
    await kafkaAdmin
      .listTopics()
      .then((topics) =>
        kafkaAdmin.deleteTopics({ topics: topics.filter((topic) => topic.startsWith(prefix)) }),
      )
      .catch(() => undefined);
    await kafkaAdmin.disconnect().catch(() => undefined);
    await dropBenchDatabase(admin, database);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:capture failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
