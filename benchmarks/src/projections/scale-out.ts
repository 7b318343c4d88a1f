/**
 * `npm run bench:scale-out`: the same backlog on a topic of 8 partitions, drained by 1, 2
 * and 4 projection PROCESSES (`projection-child.ts`, each one projection runtime in one
 * consumer group), one count after the other on the real local stack. For each count it
 * prints the throughput, the CPU per event of the projection processes (user + system
 * time from `/proc/<pid>/stat`, summed over all of them) and how busy the whole machine was
 * (`/proc/stat`), so the curve can be read against the number of cores.
 *
 * The window runs from the first committed batch of any process (so process start-up and
 * module loading are left out, group joins and rebalances while draining are not) to the
 * last event applied; "steady" is the rate from the moment every process had committed a
 * batch (the group settled) to the end.
 *
 * Tunables: BENCH_EVENTS (80,000), BENCH_PROCESSES (1,2,4), BENCH_HANDLERS (per-event; or
 * batch), BENCH_KAFKA_CLIENT (kafkajs or platformatic).
 */
import { readFileSync } from 'node:fs';
import { produceCounterEvents, upStack } from '@tributary/testing';
import { createKafkajsClient } from '@tributary/kafkajs';
import { Kafka, logLevel } from 'kafkajs';
import knexFactory from 'knex';
import { cpuMs, startChild, stopChild, type JsonLineChild } from './children.js';
import { handlerModes } from './totals-projection.js';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 80_000);
const PROCESSES = (process.env['BENCH_PROCESSES'] ?? '1,2,4').split(',').map(Number);
const [MODE = 'per-event'] = handlerModes(process.env['BENCH_HANDLERS'] ?? 'per-event');
const PARTITIONS = 8;

const log = (line: string): void => {
  process.stderr.write(`· ${line}\n`);
};
const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
const count = (value: number): string => Math.round(value).toLocaleString('en-US');

/** Busy and total jiffies of the whole machine (`/proc/stat`, first line). */
function machineTicks(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

const { state } = await upStack({ log });
const databaseUrl = state.databaseUrl;
const brokers = state.kafkaBrokers;
if (databaseUrl === undefined || brokers === undefined)
  throw new Error('the local stack has no database or Kafka');
const run = `bench_${Date.now().toString(36)}`;
const client = createKafkajsClient({ clientId: run, brokers });
const knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
const admin = new Kafka({
  clientId: run,
  brokers: [...brokers],
  logLevel: logLevel.NOTHING,
}).admin();
await admin.connect();
const topicPrefix = `${run}.so`;
const topic = `${topicPrefix}.Counter`;
const rows: string[] = [];
try {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: PARTITIONS }],
  });
  const started = performance.now();
  await produceCounterEvents(client, topic, {
    counters: 1_000,
    versions: Math.ceil(EVENTS / 1_000),
    transactionSize: 500,
    transactionalId: `${run}-producer`,
  });
  const total = 1_000 * Math.ceil(EVENTS / 1_000);
  log(`produced ${total} records in ${((performance.now() - started) / 1_000).toFixed(1)} s`);

  for (const processes of PROCESSES) {
    const tag = `p${processes}`;
    log(`${processes} projection process(es) draining ${total} events`);
    let applied = 0;
    let firstAt = 0;
    let steadyAt = 0;
    let steadyApplied = 0;
    let cpuAtFirst: number[] = [];
    let ticksAtFirst = machineTicks();
    const committed = new Set<number>();
    const children: JsonLineChild[] = [];
    const perChild: number[] = Array.from({ length: processes }, () => 0);
    for (let index = 0; index < processes; index += 1) {
      children.push(
        startChild(
          './projection-child.ts',
          {
            DATABASE_URL: databaseUrl,
            KAFKA_BROKERS: brokers.join(','),
            TOPIC_PREFIX: topicPrefix,
            GROUP_PREFIX: `${run}.${tag}`,
            RUNTIME_SCHEMA: `${run}_rt_${tag}`,
            READ_MODEL_SCHEMA: `${run}_rm_${tag}`,
            HANDLERS: MODE,
          },
          (line) => {
            if (line['type'] !== 'batch') return;
            const now = performance.now();
            if (firstAt === 0) {
              firstAt = now;
              cpuAtFirst = children.map((child) => cpuMs(child.process.pid ?? 0));
              ticksAtFirst = machineTicks();
            }
            const batch = Number(line['applied']);
            applied += batch;
            perChild[index] = (perChild[index] ?? 0) + batch;
            committed.add(index);
            if (steadyAt === 0 && committed.size === processes) {
              steadyAt = now;
              steadyApplied = applied;
            }
          },
        ),
      );
    }
    const deadline = Date.now() + 600_000;
    while (applied < total && Date.now() < deadline) await sleep(20);
    const endAt = performance.now();
    const cpuAtEnd = children.map((child) => cpuMs(child.process.pid ?? 0));
    const ticksAtEnd = machineTicks();
    for (const child of children) await stopChild(child);
    await knex.raw(`drop schema if exists ${run}_rt_${tag} cascade`);
    await knex.raw(`drop schema if exists ${run}_rm_${tag} cascade`);
    const seconds = (endAt - firstAt) / 1_000;
    const cpu = cpuAtEnd.reduce((sum, value, index) => sum + value - (cpuAtFirst[index] ?? 0), 0);
    const busy =
      (ticksAtEnd.busy - ticksAtFirst.busy) / Math.max(1, ticksAtEnd.total - ticksAtFirst.total);
    const steady =
      steadyAt === 0 || endAt - steadyAt < 1
        ? 'n/a'
        : `${count((applied - steadyApplied) / ((endAt - steadyAt) / 1_000))}/s`;
    rows.push(
      `  ${String(processes).padStart(2)} process${processes === 1 ? ' ' : 'es'}  ${count(applied / seconds).padStart(7)} events/s  steady ${steady.padStart(9)}  ${((cpu * 1_000) / applied).toFixed(1).padStart(6)} µs CPU/event (all projection processes)  machine ${(busy * 100).toFixed(0)} % busy  per process ${perChild.map(count).join(' / ')}`,
    );
  }
} finally {
  const topics = (await admin.listTopics()).filter((name) => name.startsWith(`${run}.`));
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
  await knex.destroy();
}
process.stdout.write(
  `\nbench:scale-out (${count(1_000 * Math.ceil(EVENTS / 1_000))} events, ${PARTITIONS} partitions, ${MODE} handler, ${
    (await import('node:os')).cpus().length
  } cores)\n${rows.join('\n')}\n`,
);
process.exit(0);
