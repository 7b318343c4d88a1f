/**
 * One service's reacting process on the real stack: `SHOP_SERVICE=orders` runs the
 * `fulfilment` process manager (and its deadlines) on the orders schema, `inventory` runs
 * the `reserve_stock` reactor on the inventory schema. Each reads Kafka and writes only its
 * own schema. Prints one JSON line per committed batch; stops on SIGTERM. The parent may move
 * this process's clock forward (`{ advanceMs }` over IPC) so the demo and the e2e test need
 * not wait 15 minutes for the payment window.
 */
import { createKafkajsClient } from '@tributary/kafkajs';
import { PostgresEventStore } from '@tributary/outbox';
import { createReactorRuntime } from '@tributary/reactors';
import knexFactory from 'knex';
import { Stock } from '../inventory.js';
import { Order } from '../orders.js';
import { fulfilment, reserveStock } from '../reactors.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};

const service = env('SHOP_SERVICE');
if (service !== 'orders' && service !== 'inventory') {
  throw new Error(`SHOP_SERVICE must be "orders" or "inventory", not ${JSON.stringify(service)}`);
}
const schema = env('SHOP_SCHEMA');
let clockOffsetMs = Number(process.env['SHOP_CLOCK_OFFSET_MS'] ?? '0');
process.on('message', (message: { advanceMs?: number }) => {
  if (typeof message.advanceMs === 'number') {
    clockOffsetMs += message.advanceMs;
    print({ event: 'clock', offsetMs: clockOffsetMs });
  }
});

const knex = knexFactory({
  client: 'pg',
  connection: env('DATABASE_URL'),
  pool: { min: 0, max: 6 },
});
const runtime = createReactorRuntime({
  kafka: createKafkajsClient({
    brokers: env('KAFKA_BROKERS').split(','),
    clientId: `shop-${service}-${process.pid}`,
  }),
  knex,
  reactors: service === 'orders' ? [fulfilment] : [reserveStock],
  eventStore: new PostgresEventStore({ connection: knex, config: { schema } }),
  aggregates: service === 'orders' ? [Order] : [Stock],
  commandBus: { validate: false },
  config: {
    schema,
    topicPrefix: env('TOPIC_PREFIX'),
    groupIdPrefix: env('GROUP_PREFIX'),
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    deadlinePollIntervalMs: 250,
  },
  clock: () => new Date(Date.now() + clockOffsetMs),
  logger: {
    debug: () => undefined,
    info: () => undefined,
    warn: (message, fields) => process.stderr.write(`WARN ${message} ${JSON.stringify(fields)}\n`),
    error: (message, fields) =>
      process.stderr.write(`ERROR ${message} ${JSON.stringify(fields)}\n`),
  },
});
function print(line: object): void {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, at: Date.now(), ...line })}\n`);
}
runtime.projections.instrumentation.on('projection.batch.committed', (batch) => {
  print({ event: 'committed', partition: batch.partition, applied: batch.applied });
});
process.once('SIGTERM', () => {
  void runtime.stop().then(async () => {
    await knex.destroy();
    print({ event: 'stopped' });
    process.exit(0);
  });
});
await runtime.start();
print({ event: 'started' });
runtime.stopped.catch((error: unknown) => {
  print({ event: 'failed', error: String(error) });
  process.exit(1);
});
