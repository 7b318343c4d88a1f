/**
 * One file on purpose: one benchmark program whose measurements share the same backlog,
 * servers and summary tables, in the order they run.
 *
 * `npm run bench:capture`: throughput, CPU and memory of the WAL capturer on each Kafka
 * client, next to the raw speed of its libraries measured in the same run on the same servers:
 *
 * 1. raw pgoutput decode rate (pg-logical-replication, no Kafka) of the backlog;
 * 2. raw idempotent batched produce rate of each Kafka client (no PostgreSQL), the same
 *    records through the same port (and kafkajs with its stock encoder, for reference);
 * 3. capture draining the pre-filled backlog, once per client per round (the order
 *    alternates between rounds): events/s, capturer CPU per event (utime + stime of the
 *    capturer process over the drain) and its peak RSS (VmHWM);
 * 4. capture under concurrent writers (events/s sustained, commit-to-Kafka p50/p99), on the
 *    process of the first drain;
 * 5. the backlog drained again with the Prometheus metrics on, on the same client;
 * 6. optionally (BENCH_PROFILE=1, default on) a CPU profile of another drain per client,
 *    summarized by stage (decode, routing, record encoding, client protocol, checkpoint).
 *
 * Uses DATABASE_URL and KAFKA_BROKERS when set, else the local stack (started if needed).
 * Tunables: BENCH_EVENTS (backlog, default 200000), BENCH_SUSTAINED_MS (default 10000),
 * BENCH_WRITERS (default 4), BENCH_PROFILE (default 1), BENCH_ROUNDS (drains per client,
 * default 1), BENCH_CLIENTS (default `kafkajs,platformatic`), BENCH_RAW (0 skips the raw
 * decode and produce runs; default 1), BENCH_METRICS (0 skips the metrics-on drain; default
 * 1; `first` runs it before the other drains, to alternate the order between runs: the later
 * drain runs on a warmer page cache); BENCH_SUSTAINED_MS=0 skips the sustained case.
 */
import {
  BACKLOG_EVENTS_PER_TRANSACTION,
  prefillBacklog,
  dropBenchDatabase,
  withDatabase,
} from '../support/bench-database.js';
import { summarizeProfile } from '../support/cpu-profile.js';
import { formatTable } from '../support/table.js';
import { startCapture, type CaptureRun, type RunMark } from './capture-run.js';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KAFKA_CLIENT_NAMES, type KafkaClientName } from '@tributary/cli';
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
const RAW = (process.env.BENCH_RAW ?? '1') !== '0';
const METRICS = (process.env.BENCH_METRICS ?? '1') !== '0';
const METRICS_FIRST = process.env.BENCH_METRICS === 'first';
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
const CLIENTS = (process.env.BENCH_CLIENTS ?? KAFKA_CLIENT_NAMES.join(','))
  .split(',')
  .map((name) => name.trim())
  .filter((name): name is KafkaClientName =>
    (KAFKA_CLIENT_NAMES as readonly string[]).includes(name),
  );

const TYPES = ['Account', 'Transfer', 'Order', 'Invoice', 'Shipment'];
const RAW_PRODUCE = fileURLToPath(new URL('./raw-produce.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
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

type RawProduceMode = 'kafkajs-stock' | KafkaClientName;

/** Raw idempotent batched produce of one client, in a child process (see raw-produce.ts). */
async function rawProduce(
  brokers: string[],
  prefix: string,
  events: number,
  mode: RawProduceMode,
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
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`raw produce (${mode}) exited with code ${String(code)}`);
  return (JSON.parse(output) as { eventsPerSecond: number }).eventsPerSecond;
}

/** What one drain of the backlog measured. */
interface Drain {
  readonly client: KafkaClientName;
  readonly round: number;
  readonly eventsPerSecond: number;
  readonly cpuMicrosPerEvent: number;
  /** The main thread's part of `cpuMicrosPerEvent` (the rest: GC and compiler threads, libuv). */
  readonly mainCpuMicrosPerEvent: number;
  /** CPU seconds per wall second over the drain (1 = one core busy). */
  readonly cores: number;
  readonly peakRssKb: number;
  readonly transactions: number;
  readonly firstCommitMs: number;
}

/** Drains the backlog (`events`) with `run`, from its checkpoint load to the last commit. */
async function measureDrain(
  run: CaptureRun,
  client: KafkaClientName,
  round: number,
  events: number,
): Promise<{ drain: Drain; end: RunMark }> {
  const start = await run.ready;
  const end = await run.reached(events, 600_000);
  const ms = Math.max(1, end.at - start.at);
  const published = end.published - start.published;
  const cpuMs = end.cpuMs - start.cpuMs;
  const drain: Drain = {
    client,
    round,
    eventsPerSecond: rate(published, ms),
    cpuMicrosPerEvent: (cpuMs * 1000) / published,
    mainCpuMicrosPerEvent: ((end.mainCpuMs - start.mainCpuMs) * 1000) / published,
    cores: cpuMs / ms,
    peakRssKb: run.peakRssKb(),
    transactions: run.batches.length,
    firstCommitMs: (run.batches[0]?.at ?? start.at) - start.at,
  };
  out(
    `  capture drain, ${client} (${round === 0 ? 'metrics on' : `round ${round}`}): ${drain.eventsPerSecond} events/s, ${drain.cpuMicrosPerEvent.toFixed(1)} µs CPU per event (main thread ${drain.mainCpuMicrosPerEvent.toFixed(1)} µs; ${drain.cores.toFixed(2)} cores), peak RSS ${(drain.peakRssKb / 1024).toFixed(0)} MiB (${drain.transactions} Kafka transactions in ${(ms / 1000).toFixed(2)} s from checkpoint loaded to last commit; first commit after ${drain.firstCommitMs} ms)`,
  );
  return { drain, end };
}

/** Appends with `WRITERS` concurrent appenders for `SUSTAINED_MS`. */
async function sustainedWrites(
  databaseUrl: string,
): Promise<{ written: number; ms: number; startedAt: number; endedAt: number }> {
  const store = new PostgresEventStore({ connectionString: databaseUrl });
  let written = 0;
  const startedAt = Date.now();
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
  const ms = performance.now() - writeStart;
  const endedAt = Date.now();
  await store.close();
  return { written, ms, startedAt, endedAt };
}

/** Per-client figures, one column per client. */
function clientTable(
  clients: readonly KafkaClientName[],
  produce: ReadonlyMap<RawProduceMode, number>,
  drains: readonly Drain[],
  decodeRate: number,
): string[] {
  const per = (client: KafkaClientName): Drain[] => drains.filter((d) => d.client === client);
  const joined = (client: KafkaClientName, cell: (drain: Drain) => string): string =>
    per(client).map(cell).join(' / ');
  const row = (title: string, cell: (client: KafkaClientName) => string): string[] => [
    title,
    ...clients.map(cell),
  ];
  const rounds =
    ROUNDS > 1 ? ` (rounds ${Array.from({ length: ROUNDS }, (_, i) => i + 1).join(' / ')})` : '';
  return formatTable(
    ['measure', ...clients],
    [
      row('raw idempotent batched produce, same records', (c) => `${produce.get(c) ?? '—'} ev/s`),
      row('raw produce, kafkajs stock encoder', (c) =>
        c === 'kafkajs' ? `${produce.get('kafkajs-stock') ?? '—'} ev/s` : '—',
      ),
      row(`capture drain${rounds}`, (c) => `${joined(c, (d) => String(d.eventsPerSecond))} ev/s`),
      row('drain ÷ raw produce', (c) =>
        joined(c, (d) => (d.eventsPerSecond / (produce.get(c) ?? Number.NaN)).toFixed(2)),
      ),
      row('drain ÷ raw pgoutput decode', (c) =>
        joined(c, (d) => (d.eventsPerSecond / decodeRate).toFixed(2)),
      ),
      row(
        'capturer CPU per event',
        (c) => `${joined(c, (d) => d.cpuMicrosPerEvent.toFixed(1))} µs`,
      ),
      row(
        'of which main thread',
        (c) => `${joined(c, (d) => d.mainCpuMicrosPerEvent.toFixed(1))} µs`,
      ),
      row('capturer CPU during the drain', (c) => `${joined(c, (d) => d.cores.toFixed(2))} cores`),
      row(
        'capturer peak RSS (VmHWM)',
        (c) => `${joined(c, (d) => (d.peakRssKb / 1024).toFixed(0))} MiB`,
      ),
    ],
  );
}

async function main(): Promise<void> {
  if (CLIENTS.length === 0)
    throw new Error(`BENCH_CLIENTS names none of ${KAFKA_CLIENT_NAMES.join(', ')}`);
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
    // Every capture run has its own slot, created before the backlog so that each drains it.
    const orders = Array.from({ length: ROUNDS }, (_, round) =>
      round % 2 === 0 ? CLIENTS : [...CLIENTS].reverse(),
    );
    const captureName = (kind: string, client: KafkaClientName, round = 1): string =>
      `bench${kind}_${client}_${round}_${id}`;
    const captureNames = [
      ...orders.flatMap((order, round) => order.map((c) => captureName('', c, round + 1))),
      ...(METRICS ? [captureName('met', CLIENTS[0] ?? 'kafkajs')] : []),
      ...(PROFILE ? CLIENTS.map((c) => captureName('prof', c)) : []),
    ];
    const decodeSlot = `bench_${id}_decode`;
    await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [decodeSlot]);
    for (const name of captureNames) {
      await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [
        `tributary_${name}`,
      ]);
    }
    out(
      `\nbench:capture — backlog ${EVENTS} events in transactions of ${BACKLOG_EVENTS_PER_TRANSACTION}, ${TYPES.length} aggregate types × 3 partitions; clients ${CLIENTS.join(', ')}; ${ROUNDS} round(s)`,
    );
    const prefillStart = performance.now();
    await prefillBacklog(client, EVENTS);
    out(`  prefilled in ${((performance.now() - prefillStart) / 1000).toFixed(1)} s`);

    const decodeRate = RAW
      ? await rawDecode(databaseUrl, decodeSlot, publication, EVENTS)
      : Number.NaN;
    out(`  raw pgoutput decode: ${decodeRate} events/s`);
    const produce = new Map<RawProduceMode, number>();
    const modes: RawProduceMode[] = RAW ? [...CLIENTS] : [];
    if (modes.includes('kafkajs')) modes.push('kafkajs-stock');
    for (const mode of modes) {
      produce.set(mode, await rawProduce(brokers, prefix, EVENTS, mode));
      out(`  raw idempotent batched produce, ${mode}: ${produce.get(mode)} events/s`);
    }

    const captureEnv = (name: string): Record<string, string> => ({
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: brokers.join(','),
      TRIBUTARY_CAPTURE_NAME: name,
      TRIBUTARY_PUBLICATION: publication,
      TRIBUTARY_TOPIC_PREFIX: `${prefix}.${name}`,
      TRIBUTARY_CHECKPOINT_TOPIC: `${prefix}.checkpoints`,
      TRIBUTARY_PROGRESS_INTERVAL_MS: '0',
    });

    // The same backlog (and the sustained writes, when it runs after them) drained again with
    // the Prometheus metrics on, on the first client: the cost of metrics is the ratio of the
    // two drains. BENCH_METRICS=first runs it before the other drains.
    const metClient = CLIENTS[0] ?? 'kafkajs';
    let metered: Drain | undefined;
    const meteredDrain = async (events: number): Promise<void> => {
      const run = startCapture(metClient, {
        ...captureEnv(captureName('met', metClient)),
        BENCH_CHILD_METRICS: '1',
      });
      // Measured like the other drains (checkpoint load to last commit, CPU of the process).
      metered = (await measureDrain(run, metClient, 0, events).finally(() => run.stop())).drain;
    };
    if (METRICS && METRICS_FIRST) await meteredDrain(EVENTS);

    // Drain the backlog, each client in turn; the first run stays up for the sustained case.
    const drains: Drain[] = [];
    let first: { run: CaptureRun; client: KafkaClientName; end: RunMark } | undefined;
    for (const [round, order] of orders.entries()) {
      for (const name of order) {
        const run = startCapture(name, captureEnv(captureName('', name, round + 1)));
        try {
          const { drain, end } = await measureDrain(run, name, round + 1, EVENTS);
          drains.push(drain);
          if (first === undefined) first = { run, client: name, end };
          else await run.stop();
        } catch (error) {
          await run.stop();
          throw error;
        }
      }
    }
    if (first === undefined) throw new Error('no drain ran');

    // Sustained, under concurrent writers, on the first drain's process.
    const sustainedRun = first.run;
    let written = 0;
    let sustainedRows: string[][] = [];
    if (SUSTAINED_MS > 0) {
      const startIndex = sustainedRun.batches.length;
      const writes = await sustainedWrites(databaseUrl);
      written = writes.written;
      const caught = await sustainedRun.reached(first.end.published + written, 120_000);
      const sustainedMs = Math.max(1, caught.at - writes.startedAt);
      const sustained = sustainedRun.batches.slice(startIndex);
      const latencies = sustained.flatMap((batch) => batch.latencies);
      const sustainedRate = rate(written, sustainedMs);
      out(
        `  sustained (${first.client}): writers committed ${rate(written, writes.ms)} events/s (${WRITERS} writers, transactions of 20 events over 4 aggregates); capture published them at ${sustainedRate} events/s (${sustained.length} Kafka transactions; all in Kafka ${caught.at - writes.endedAt} ms after the last write)`,
      );
      sustainedRows = [
        [
          `capture sustained, ${first.client}`,
          `${sustainedRate} ev/s (writers: ${rate(written, writes.ms)} ev/s, ${WRITERS} writers)`,
        ],
        [
          'commit-to-Kafka p50 / p99',
          `${percentile(latencies, 50).toFixed(0)} / ${percentile(latencies, 99).toFixed(0)} ms (${latencies.length} source transactions)`,
        ],
      ];
    }
    await sustainedRun.stop();

    if (METRICS && !METRICS_FIRST) await meteredDrain(EVENTS + written);
    let metricsRows: string[][] = [];
    if (metered !== undefined) {
      const on: Drain = metered;
      const off = drains.find((d) => d.client === metClient);
      const offRate = off?.eventsPerSecond ?? Number.NaN;
      const offCpu = off?.cpuMicrosPerEvent ?? Number.NaN;
      const order = METRICS_FIRST ? 'on drained first' : 'on drained last';
      metricsRows = [
        [
          `capture drain, metrics off / on, ${metClient}`,
          `${offRate} / ${on.eventsPerSecond} ev/s (on = ${((on.eventsPerSecond / offRate) * 100).toFixed(1)} % of off; ${order}${!METRICS_FIRST && written > 0 ? ', with the sustained writes' : ''})`,
        ],
        [
          `capturer CPU per event, metrics off / on, ${metClient}`,
          `${offCpu.toFixed(1)} / ${on.cpuMicrosPerEvent.toFixed(1)} µs (on = ${((on.cpuMicrosPerEvent / offCpu) * 100).toFixed(1)} % of off)`,
        ],
      ];
    }

    out('');
    out('  summary');
    for (const line of clientTable(CLIENTS, produce, drains, decodeRate)) out(`    ${line}`);
    out('');
    const shared = formatTable(
      ['measure', 'result'],
      [['raw pgoutput decode (no Kafka)', `${decodeRate} ev/s`], ...sustainedRows, ...metricsRows],
    );
    for (const line of shared) out(`    ${line}`);

    if (PROFILE) {
      const dir = mkdtempSync(join(tmpdir(), 'tributary-capture-profile-'));
      for (const name of CLIENTS) {
        const file = join(dir, `${name}.cpuprofile`);
        const profiled = startCapture(name, captureEnv(captureName('prof', name)), file);
        await profiled.ready;
        await profiled.reached(EVENTS + written, 600_000);
        await profiled.stop();
        out('');
        out(
          `  CPU profile of another drain, ${name}, main thread, checkpoint loaded → drained: ${file}`,
        );
        for (const line of existsSync(file) ? summarizeProfile(file) : ['  (missing)']) out(line);
      }
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
