/**
 * A reactor process for the crash test: runs {@link acknowledger} against the service's
 * outbox with the configuration from the environment, honours `TRIBUTARY_CRASH_AT` (a
 * SIGKILL of itself at a named point of the batch cycle), prints one JSON line per
 * committed batch and stops on SIGTERM.
 */
import { createKafkajsClient } from '@tributary/kafkajs';
import { PostgresEventStore } from '@tributary/outbox';
import { faultPlansFromEnvironment } from '@tributary/projections';
import { printJsonLine, requiredEnv as env, serveUntilTerminated } from '@tributary/testing';
import knexFactory from 'knex';
import { createReactorRuntime } from '../index.js';
import { acknowledger, Ledger } from './ledger.js';

const knex = knexFactory({
  client: 'pg',
  connection: env('DATABASE_URL'),
  pool: { min: 0, max: 6 },
});
const runtime = createReactorRuntime({
  kafka: createKafkajsClient({
    brokers: env('KAFKA_BROKERS').split(','),
    clientId: `reactor-child-${process.pid}`,
  }),
  knex,
  reactors: [acknowledger],
  eventStore: new PostgresEventStore({ connection: knex }),
  aggregates: [Ledger],
  commandBus: { validate: false },
  config: {
    topicPrefix: env('TOPIC_PREFIX'),
    groupIdPrefix: env('GROUP_PREFIX'),
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    maxBatchRecords: 50,
  },
  faults: faultPlansFromEnvironment(),
  logger: {
    debug: () => undefined,
    info: () => undefined,
    warn: (message, fields) => process.stderr.write(`WARN ${message} ${JSON.stringify(fields)}\n`),
    error: (message, fields) =>
      process.stderr.write(`ERROR ${message} ${JSON.stringify(fields)}\n`),
  },
});
runtime.projections.instrumentation.on('projection.batch.committed', (batch) => {
  printJsonLine({ event: 'committed', partition: batch.partition, applied: batch.applied });
});
await serveUntilTerminated(runtime, () => knex.destroy());
