/**
 * A projection process of `npm run bench:scale-out`: one projection runtime applying the
 * `bench_totals` read model, configured from the environment (DATABASE_URL, KAFKA_BROKERS,
 * TOPIC_PREFIX, GROUP_PREFIX, RUNTIME_SCHEMA, READ_MODEL_SCHEMA, HANDLERS = per-event or
 * batch, BENCH_KAFKA_CLIENT). Prints JSON lines on stdout: `ready` once started, one
 * `batch` per committed batch, `stopped` (with its peak RSS) after SIGTERM.
 */
import { createKafkaClient, kafkaClientName } from '@tributary/cli';
import { createProjectionRuntime } from '@tributary/projections';
import knexFactory from 'knex';
import { handlerModes, totalsProjection } from './totals-projection.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};
const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};
const [mode = 'per-event'] = handlerModes(env('HANDLERS'));
const client = createKafkaClient(
  kafkaClientName({ value: process.env['BENCH_KAFKA_CLIENT'], source: 'BENCH_KAFKA_CLIENT' }),
  { clientId: `bench-projection-${process.pid}`, brokers: env('KAFKA_BROKERS').split(',') },
);
const knex = knexFactory({
  client: 'pg',
  connection: env('DATABASE_URL'),
  pool: { min: 0, max: 10 },
});
const runtime = createProjectionRuntime({
  kafka: client,
  knex,
  projections: [totalsProjection(mode)],
  config: {
    topicPrefix: env('TOPIC_PREFIX'),
    groupIdPrefix: env('GROUP_PREFIX'),
    schema: env('RUNTIME_SCHEMA'),
    readModelSchema: env('READ_MODEL_SCHEMA'),
  },
});
runtime.instrumentation.on('projection.batch.committed', (batch) => {
  print({ type: 'batch', at: Date.now(), applied: batch.applied, partition: batch.partition });
});
process.once('SIGTERM', () => {
  void (async () => {
    await runtime.stop();
    await knex.destroy();
    print({ type: 'stopped', maxRssKb: process.resourceUsage().maxRSS });
    process.exit(0);
  })();
});
await runtime.start();
print({ type: 'ready', at: Date.now() });
