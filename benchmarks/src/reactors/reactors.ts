/**
 * `npm run bench:reactors`: a reactor that executes one command per consumed event, on the
 * real local stack (started if needed):
 *
 * 1. throughput: events/s from a prefilled topic through the reactor (each event → one
 *    command on the service's bus → one event appended to the outbox, in the transaction
 *    that moves the reactor's checkpoint);
 * 2. end-to-end latency, source event commit → reacting command commit, p50/p99, at a
 *    steady offered rate produced by a SEPARATE load process (`load.ts`). The source events
 *    are produced straight to Kafka in transactions (as the capturer does); their commit is
 *    stamped just before the Kafka commit, the reacting commit when the reactor's batch
 *    transaction has committed.
 *
 * Tunables: BENCH_EVENTS (20,000), BENCH_RATE (1,000 events/s), BENCH_LATENCY_SECONDS (15).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { command, defineAggregate, type DomainEvent } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { migrateOutbox, PostgresEventStore } from '@tributary/outbox';
import { createReactorRuntime, defineReactor } from '@tributary/reactors';
import { produceCounterEvents, upStack } from '@tributary/testing';
import knexFactory from 'knex';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const RATE = Number(process.env['BENCH_RATE'] ?? 1_000);
const LATENCY_SECONDS = Number(process.env['BENCH_LATENCY_SECONDS'] ?? 15);
const PARTITIONS = 4;

const log = (line: string): void => {
  process.stderr.write(`· ${line}\n`);
};
const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;

class Acknowledge {
  static readonly commandType = 'Acknowledge';
  ledgerId!: string;
  sourceEventId!: string;
}
type LedgerEvent = DomainEvent<'Acknowledged', { sourceEventId: string }>;
const Ledger = defineAggregate<{ count: number }, LedgerEvent>({
  type: 'Ledger',
  initialState: () => ({ count: 0 }),
  evolve: { Acknowledged: (state) => ({ count: state.count + 1 }) },
  // Long streams: a snapshot would be the production answer; the bench keeps one ledger
  // per source event so every command loads an empty stream, as most reactions do.
}).handles(Acknowledge, {
  aggregateId: (cmd) => cmd.ledgerId,
  decide: (cmd) => ({ type: 'Acknowledged', data: { sourceEventId: cmd.sourceEventId } }),
});
type CounterEvent = DomainEvent<'Incremented', { by: number }>;

const { state } = await upStack({ log });
const { databaseUrl: stackDatabase, kafkaBrokers: stackBrokers } = state;
if (stackDatabase === undefined || stackBrokers === undefined) throw new Error('no stack');
const databaseUrl: string = stackDatabase;
const brokers: readonly string[] = stackBrokers;
const run = `bench_rx_${Date.now().toString(36)}`;
const kafka = createKafkajsClient({ brokers, clientId: 'bench-reactors' });
const admin = kafka.admin();
await admin.connect();

/** One reactor runtime on a fresh topic and schema; `onCommitted` gets latencies per batch. */
async function measure(
  name: string,
  prepare: (topic: string) => Promise<number>,
  onLatency?: (ms: number) => void,
): Promise<{ events: number; seconds: number }> {
  // Latency runs start the load once the runtime consumes, so group joining is not measured.
  const loadAfterStart = onLatency !== undefined;
  const prefix = `${run}_${name}`;
  const topic = `${prefix}.Counter`;
  await admin.createTopics([{ topic, partitions: PARTITIONS, replicationFactor: 1 }]);
  const knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 10 } });
  const schema = prefix;
  await migrateOutbox({ knex, config: { schema } });
  const pending = new Map<number, number[]>();
  const reactor = defineReactor<CounterEvent>({
    name: 'bench_ack',
    events: { Counter: ['Incremented'] },
    async handle(event, ctx) {
      await ctx.execute(
        command(Acknowledge, { ledgerId: event.eventId, sourceEventId: event.eventId }),
      );
      const list = pending.get(event.position.partition) ?? [];
      list.push(Date.parse(event.occurredAt));
      pending.set(event.position.partition, list);
    },
  });
  const runtime = createReactorRuntime({
    kafka,
    knex,
    reactors: [reactor],
    eventStore: new PostgresEventStore({ connection: knex, config: { schema } }),
    aggregates: [Ledger],
    commandBus: { validate: false },
    runDeadlines: false,
    config: { topicPrefix: prefix, schema, groupIdPrefix: `${prefix}.group` },
  });
  let applied = 0;
  let assigned = false;
  runtime.projections.instrumentation.on('projection.partitions.assigned', () => {
    assigned = true;
  });
  runtime.projections.instrumentation.on('projection.batch.committed', (batch) => {
    applied += batch.applied;
    const now = Date.now();
    for (const sentAt of pending.get(batch.partition) ?? []) onLatency?.(now - sentAt);
    pending.set(batch.partition, []);
  });
  let expected = loadAfterStart ? 0 : await prepare(topic);
  const started = performance.now();
  await runtime.start();
  if (loadAfterStart) {
    while (!assigned) await sleep(50);
    expected = await prepare(topic);
  }
  const deadline = Date.now() + Math.max(120_000, expected * 20);
  while (applied < expected && Date.now() < deadline) await sleep(50);
  const seconds = (performance.now() - started) / 1_000;
  await runtime.stop();
  await knex.destroy();
  if (applied < expected) throw new Error(`${name}: only ${applied} of ${expected} events applied`);
  return { events: applied, seconds };
}

log(`throughput: ${EVENTS} events prefilled, then one reactor runtime drains them`);
const throughput = await measure('tp', (topic) =>
  produceCounterEvents(kafka, topic, {
    counters: Math.min(1_000, EVENTS),
    versions: Math.ceil(EVENTS / Math.min(1_000, EVENTS)),
    transactionSize: 500,
    transactionalId: `${run}-prefill`,
  }),
);

log(`latency: ${RATE} events/s for ${LATENCY_SECONDS} s from a separate load process`);
const latencies: number[] = [];
await measure(
  'lat',
  (topic) => {
    const load = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        fileURLToPath(new URL('./load.ts', import.meta.url)),
      ],
      {
        env: {
          ...process.env,
          RATE: String(RATE),
          SECONDS: String(LATENCY_SECONDS),
          TOPIC: topic,
          KAFKA_BROKERS: brokers.join(','),
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    load.once('exit', (code) => {
      if (code !== 0) log(`load process exited with ${String(code)}`);
    });
    return Promise.resolve(RATE * LATENCY_SECONDS);
  },
  (ms) => latencies.push(ms),
);
await admin.disconnect();
latencies.sort((a, b) => a - b);
const rows: [string, string][] = [
  [
    'reactor throughput (1 command per event)',
    `${Math.round(throughput.events / throughput.seconds).toLocaleString('en-US')} events/s (${throughput.events} in ${throughput.seconds.toFixed(1)} s, start-up included)`,
  ],
  [`end-to-end latency at ${RATE} events/s offered, p50`, `${percentile(latencies, 50)} ms`],
  [`end-to-end latency at ${RATE} events/s offered, p99`, `${percentile(latencies, 99)} ms`],
  ['latency samples', String(latencies.length)],
];
for (const [label, value] of rows) process.stdout.write(`${label.padEnd(52)} ${value}\n`);
