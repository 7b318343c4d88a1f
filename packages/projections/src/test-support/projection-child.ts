/**
 * A projection runtime process for the crash tests: runs {@link applicationsProjection}
 * with the configuration from the environment (Kafka client: `TRIBUTARY_KAFKA_CLIENT`), honours `TRIBUTARY_CRASH_AT` /
 * `TRIBUTARY_PAUSE_AT`, prints one JSON line per committed batch and stops on SIGTERM.
 */
import type { KafkaClient } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { createPlatformaticKafkaClient } from '@tributary/platformatic-kafka';
import {
  printJsonLine as print,
  requiredEnv as env,
  serveUntilTerminated,
} from '@tributary/testing';
import knexFactory from 'knex';
import { createProjectionRuntime } from '../runtime/kafka-runtime.js';
import { faultPlansFromEnvironment } from '../fault-injection.js';
import { applicationsProjection } from './counter-projection.js';

const knex = knexFactory({
  client: 'pg',
  connection: env('DATABASE_URL'),
  pool: { min: 0, max: 6 },
});
const kafkaOptions = { brokers: env('KAFKA_BROKERS').split(','), clientId: `child-${process.pid}` };
// The crash suites run once per client (TRIBUTARY_KAFKA_CLIENT, default kafkajs).
const kafka: KafkaClient =
  process.env['TRIBUTARY_KAFKA_CLIENT'] === 'platformatic'
    ? createPlatformaticKafkaClient(kafkaOptions)
    : createKafkajsClient(kafkaOptions);
const runtime = createProjectionRuntime({
  kafka,
  knex,
  projections: [applicationsProjection],
  config: {
    topicPrefix: env('TOPIC_PREFIX'),
    groupIdPrefix: env('GROUP_PREFIX'),
    schema: env('RUNTIME_SCHEMA'),
    readModelSchema: env('READ_MODEL_SCHEMA'),
    sessionTimeoutMs: Number(process.env['SESSION_TIMEOUT_MS'] ?? 6_000),
    heartbeatIntervalMs: 500,
    maxBatchRecords: Number(process.env['MAX_BATCH_RECORDS'] ?? 100),
    partitionsConsumedConcurrently: Number(process.env['PARTITIONS_CONCURRENCY'] ?? 4),
    idleInTransactionTimeoutMs: Number(process.env['IDLE_IN_TRANSACTION_TIMEOUT_MS'] ?? 30_000),
  },
  faults: faultPlansFromEnvironment(),
});
runtime.instrumentation.on('projection.batch.committed', (batch) => {
  print({
    event: 'committed',
    partition: batch.partition,
    applied: batch.applied,
    skipped: batch.skipped,
    nextOffset: batch.nextOffset,
  });
});
runtime.instrumentation.on('projection.partitions.assigned', (assigned) => {
  print({ event: 'assigned', partitions: assigned.partitions.map((p) => p.partition) });
});
await serveUntilTerminated(runtime, () => knex.destroy());
