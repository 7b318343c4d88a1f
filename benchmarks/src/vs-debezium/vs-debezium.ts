/**
 * `npm run bench:vs-debezium`: Tributary's capturer and Debezium's PostgreSQL connector with
 * the outbox EventRouter (on Kafka Connect), draining the same backlog into the same broker
 * in the same run, in alternating order over BENCH_ROUNDS rounds.
 *
 * Contenders: Tributary (bench:capture's capture child, exactly-once), Debezium with
 * JsonConverter values (a user's default) and Debezium with StringConverter values (its
 * cheapest). Each run gets its own slot, created before the backlog is written, and its
 * own topics; the clock starts when its process is spawned.
 *
 * Uses DATABASE_URL and KAFKA_BROKERS when set, else the local stack (started if needed).
 * Tunables: BENCH_EVENTS (default 200000), BENCH_ROUNDS (default 2),
 * BENCH_DEBEZIUM_VERSION (default 3.6.1.Final), BENCH_RUN_TIMEOUT_MS (default 600000).
 */
import { randomBytes } from 'node:crypto';
import { resolveStackConfig, upStack, findFreePort } from '@tributary/testing';
import { migrateOutbox } from '@tributary/outbox';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import {
  BACKLOG_EVENTS_PER_TRANSACTION,
  dropBenchDatabase,
  prefillBacklog,
  withDatabase,
} from '../support/bench-database.js';
import { formatTable } from '../support/table.js';
import { DEFAULT_DEBEZIUM_VERSION, ensureConnectDistribution } from './connect-distribution.js';
import {
  connectWorkerProperties,
  debeziumConnectorProperties,
  type DebeziumValueFormat,
} from './debezium-config.js';
import { drainWithDebezium, drainWithTributary, type RunResult } from './runs.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const DEBEZIUM_VERSION = process.env.BENCH_DEBEZIUM_VERSION ?? DEFAULT_DEBEZIUM_VERSION;
const RUN_TIMEOUT_MS = Number(process.env.BENCH_RUN_TIMEOUT_MS ?? 600_000);
/** Tributary's default partitions per event topic; Connect creates Debezium's alike. */
const PARTITIONS = 3;
/** The aggregate types prefillBacklog writes: one topic each. */
const TYPES = ['Account', 'Transfer', 'Order', 'Invoice', 'Shipment'];
/** Slots of one run each; the stack allows 20, and the other benches and tests need some. */
const MAX_SLOTS = 15;

type Contender = 'tributary' | DebeziumValueFormat;
const LABELS: Record<Contender, string> = {
  tributary: 'Tributary',
  json: 'Debezium JSON',
  string: 'Debezium string',
};

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

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

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
};

/** The figures of one run, derived once for the table and the summary. */
interface Figures {
  readonly rateFromStart: number;
  readonly rateAfterFirst: number;
  readonly cpuPerEventUs: number;
  readonly cpuPerEventTotalUs: number;
  readonly peakRssMiB: number;
}

function figures(result: RunResult): Figures {
  const drained = EVENTS - result.firstSeenEvents;
  const drainMs = result.endMs - result.firstSeenMs;
  return {
    rateFromStart: (EVENTS * 1000) / result.endMs,
    // A first observation that already holds everything leaves no drain to time.
    rateAfterFirst: drained > 0 && drainMs > 0 ? (drained * 1000) / drainMs : Number.NaN,
    cpuPerEventUs: drained > 0 ? (result.cpuDrainMs * 1000) / drained : Number.NaN,
    cpuPerEventTotalUs: (result.cpuTotalMs * 1000) / EVENTS,
    peakRssMiB: result.peakRssKb / 1024,
  };
}

const fixed = (value: number, digits = 0): string =>
  Number.isFinite(value) ? value.toFixed(digits) : '–';

async function main(): Promise<void> {
  if (!Number.isInteger(EVENTS) || EVENTS < BACKLOG_EVENTS_PER_TRANSACTION) {
    throw new Error(`BENCH_EVENTS must be an integer ≥ ${BACKLOG_EVENTS_PER_TRANSACTION}`);
  }
  if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS * 3 > MAX_SLOTS) {
    throw new Error(`BENCH_ROUNDS must be an integer from 1 to ${MAX_SLOTS / 3} (3 slots a round)`);
  }
  const distribution = await ensureConnectDistribution(
    resolveStackConfig(),
    DEBEZIUM_VERSION,
    (line) => out(`  ${line}`),
  );
  const { databaseUrl: serverUrl, brokers } = await servers();
  const id = randomBytes(4).toString('hex');
  const database = `bench_vsdbz_${id}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database "${database}"`);
  const databaseUrl = withDatabase(serverUrl, database);
  const client = new pg.Client({ connectionString: databaseUrl });
  const kafkaAdmin = new Kafka({
    clientId: 'bench-vs-debezium',
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  const prefix = `bench_vsdbz_${id}`;
  try {
    await client.connect();
    await kafkaAdmin.connect();
    await migrateOutbox({ connectionString: databaseUrl });
    // Each tool has its own publication, created before the slots (pgoutput reads the
    // publication as of each change's position), and each run its own slot, created before
    // the backlog so that its first start finds the whole backlog waiting.
    const publications = { tributary: `tributary_${prefix}`, debezium: `dbz_${prefix}` };
    await client.query(
      `create publication "${publications.tributary}" for table tributary.events with (publish = 'insert')`,
    );
    await client.query(`create publication "${publications.debezium}" for table tributary.events`);
    const captureName = (round: number): string => `vsdbz_${id}_${round}`;
    const slotOf = (contender: Contender, round: number): string =>
      contender === 'tributary'
        ? `tributary_${captureName(round)}`
        : `dbz_${id}_${contender}_${round}`;
    const contenders: readonly Contender[] = ['tributary', 'json', 'string'];
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const contender of contenders) {
        await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [
          slotOf(contender, round),
        ]);
      }
    }
    out(
      `\nbench:vs-debezium — backlog of ${EVENTS} events in transactions of ${BACKLOG_EVENTS_PER_TRANSACTION}, 1,000 aggregates, ${TYPES.length} aggregate types × ${PARTITIONS} partitions; ${ROUNDS} round(s), order alternated`,
    );
    out(
      `  Kafka Connect ${distribution.kafkaVersion} (standalone, one worker JVM) + Debezium PostgreSQL connector ${distribution.debeziumVersion}, outbox EventRouter, pgoutput`,
    );
    out(
      '  delivery: Tributary exactly-once (Kafka transactions; counted after each commit); Debezium at-least-once (exactly.once.source.support is a distributed-worker feature, off in standalone; counted by end offsets)',
    );
    const prefillStart = performance.now();
    await prefillBacklog(client, EVENTS);
    out(`  prefilled in ${((performance.now() - prefillStart) / 1000).toFixed(1)} s`);

    const topicsOf = (runPrefix: string): string[] => TYPES.map((type) => `${runPrefix}.${type}`);
    const drainOptions = (runPrefix: string) => ({
      events: EVENTS,
      topics: topicsOf(runPrefix),
      admin: kafkaAdmin,
      timeoutMs: RUN_TIMEOUT_MS,
    });
    const run = async (contender: Contender, round: number): Promise<RunResult> => {
      const runPrefix = `${prefix}.${contender}_${round}`;
      if (contender === 'tributary') {
        return drainWithTributary(drainOptions(runPrefix), {
          DATABASE_URL: databaseUrl,
          KAFKA_BROKERS: brokers.join(','),
          TRIBUTARY_CAPTURE_NAME: captureName(round),
          TRIBUTARY_PUBLICATION: publications.tributary,
          TRIBUTARY_TOPIC_PREFIX: runPrefix,
          TRIBUTARY_CHECKPOINT_TOPIC: `${prefix}.checkpoints`,
          TRIBUTARY_PROGRESS_INTERVAL_MS: '0',
        });
      }
      const restPort = await findFreePort();
      return drainWithDebezium({
        ...drainOptions(runPrefix),
        distribution,
        pollMs: 50,
        worker: (runDir) =>
          connectWorkerProperties({
            bootstrapServers: brokers,
            valueFormat: contender,
            offsetsFile: `${runDir}/connect.offsets`,
            pluginPath: distribution.pluginPath,
            restPort,
          }),
        connector: debeziumConnectorProperties({
          name: `bench-debezium-${contender}-${round}`,
          databaseUrl,
          serverName: `${prefix}_dbz_${contender}_${round}`,
          slot: slotOf(contender, round),
          publication: publications.debezium,
          topicPrefix: runPrefix,
          partitions: PARTITIONS,
        }),
      });
    };

    const results = new Map<Contender, Figures[]>(contenders.map((c) => [c, []]));
    const rows: string[][] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        const result = await run(contender, round);
        const f = figures(result);
        results.get(contender)?.push(f);
        const row = [
          String(round + 1),
          LABELS[contender],
          fixed(result.endMs / 1000, 2),
          fixed(f.rateFromStart),
          fixed(result.firstSeenMs / 1000, 2),
          fixed(f.rateAfterFirst),
          fixed(f.cpuPerEventUs, 1),
          fixed(f.cpuPerEventTotalUs, 1),
          fixed(f.peakRssMiB),
          String(result.recordsInKafka),
        ];
        rows.push(row);
        out(
          `  round ${row[0] ?? ''} ${LABELS[contender]}: ${f.rateFromStart.toFixed(0)} events/s from start, ${fixed(f.rateAfterFirst)} after the first record`,
        );
      }
    }
    out('');
    for (const line of formatTable(
      [
        'round',
        'contender',
        'all in Kafka after s',
        'events/s',
        'first record after s',
        'events/s after it',
        'CPU µs/event (drain)',
        'CPU µs/event (with start)',
        'peak RSS MiB',
        'end offsets',
      ],
      rows,
    )) {
      out(`  ${line}`);
    }

    const summary = (contender: Contender): Figures => {
      const runs = results.get(contender) ?? [];
      return {
        rateFromStart: median(runs.map((f) => f.rateFromStart)),
        rateAfterFirst: median(runs.map((f) => f.rateAfterFirst)),
        cpuPerEventUs: median(runs.map((f) => f.cpuPerEventUs)),
        cpuPerEventTotalUs: median(runs.map((f) => f.cpuPerEventTotalUs)),
        peakRssMiB: median(runs.map((f) => f.peakRssMiB)),
      };
    };
    const cells = (f: Figures, digits: number): string[] => [
      fixed(f.rateFromStart, digits),
      fixed(f.rateAfterFirst, digits),
      fixed(f.cpuPerEventUs, 1 + digits),
      fixed(f.cpuPerEventTotalUs, 1 + digits),
      fixed(f.peakRssMiB, digits),
    ];
    const ratio = (a: Figures, b: Figures): Figures => ({
      rateFromStart: a.rateFromStart / b.rateFromStart,
      rateAfterFirst: a.rateAfterFirst / b.rateAfterFirst,
      cpuPerEventUs: a.cpuPerEventUs / b.cpuPerEventUs,
      cpuPerEventTotalUs: a.cpuPerEventTotalUs / b.cpuPerEventTotalUs,
      peakRssMiB: a.peakRssMiB / b.peakRssMiB,
    });
    const tributary = summary('tributary');
    out('');
    out(`  summary (median of ${ROUNDS} round(s)); ratios are Tributary ÷ Debezium`);
    for (const line of formatTable(
      [
        '',
        'events/s',
        'events/s after first record',
        'CPU µs/event (drain)',
        'CPU µs/event (with start)',
        'peak RSS MiB',
      ],
      [
        [LABELS.tributary, ...cells(tributary, 0)],
        [LABELS.json, ...cells(summary('json'), 0)],
        [LABELS.string, ...cells(summary('string'), 0)],
        ['Tributary ÷ Debezium JSON', ...cells(ratio(tributary, summary('json')), 2)],
        ['Tributary ÷ Debezium string', ...cells(ratio(tributary, summary('string')), 2)],
      ],
    )) {
      out(`  ${line}`);
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
    `bench:vs-debezium failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
