import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { applicationsProjection } from '../test-support/counter-projection.js';
import { counterRecord, produceCounterEvents } from '../test-support/counter-events.js';
import { typedRows } from '../internal/sql.js';
import { applicationReport, progress, waitUntil } from '../test-support/verify.js';
import { createProjectionRuntime } from './kafka-runtime.js';

const env = await useIntegrationEnv({ label: 'proj_runtime' });
const kafka = createKafkajsClient({ clientId: 'proj-it', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 8 } });
const topic = env.topic('events.Counter');
const config = {
  topicPrefix: `${env.topicPrefix}events`,
  groupIdPrefix: env.name('projection'),
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
  maxBatchRecords: 200,
};

afterAll(async () => {
  await knex.destroy();
});

describe('createProjectionRuntime on Kafka and PostgreSQL', () => {
  it('applies committed records exactly once, skips aborted ones, seeks to stored checkpoints after a restart and commits Kafka offsets for lag tools', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ topic, partitions: 3, replicationFactor: 1 }]);
    await admin.disconnect();
    const produced = await produceCounterEvents(kafka, topic, {
      counters: 20,
      versions: 50,
      transactionalId: env.name('producer'),
    });
    // An aborted transaction: read_committed must never show these records.
    const aborting = kafka.producer({ transactionalId: env.name('aborter') });
    await aborting.connect();
    const transaction = await aborting.begin();
    await transaction.send([
      { topic, messages: [counterRecord('c0', 999), counterRecord('aborted', 1)] },
    ]);
    await transaction.abort();
    await aborting.disconnect();

    const first = createProjectionRuntime({
      kafka,
      knex,
      projections: [applicationsProjection],
      config,
    });
    await first.start();
    await waitUntil(
      async () => (await applicationReport(knex, 'public')).events === produced,
      60_000,
      'first run',
    );
    await first.stop();
    await first.stopped;

    const more = await produceCounterEvents(kafka, topic, {
      counters: 20,
      versions: 10,
      fromVersion: 51,
      transactionalId: env.name('producer'),
    });
    const second = createProjectionRuntime({
      kafka,
      knex,
      projections: [applicationsProjection],
      config,
    });
    let skipped = 0;
    second.instrumentation.on('projection.batch.committed', (batch) => {
      skipped += batch.skipped;
    });
    await second.start();
    await waitUntil(
      async () => (await applicationReport(knex, 'public')).events === produced + more,
      60_000,
      'second run',
    );
    const { stored, end } = await progress(knex, kafka, 'tributary', topic);
    // End offsets include transaction markers; every partition's checkpoint is past its last record.
    expect(stored).toBeGreaterThanOrEqual(produced + more);
    expect(stored).toBeLessThanOrEqual(end);
    const report = await applicationReport(knex, 'public');
    expect(report).toEqual({ events: produced + more, duplicates: 0, outOfOrder: [] });
    expect(skipped).toBe(0); // the seek to the stored checkpoint avoided any redelivery
    const totals = await typedRows<{ n: string }>(knex('public.totals').count({ n: '*' }));
    expect(Number(totals[0]?.n)).toBe(20);
    // Kafka's committed offsets follow the database (only for lag tools).
    await waitUntil(
      async () => {
        const admin2 = kafka.admin();
        await admin2.connect();
        try {
          const committed = await admin2.fetchCommittedOffsets(
            `${config.groupIdPrefix}.applications.v1`,
            topic,
          );
          const sum = committed.reduce((acc, p) => acc + Math.max(0, Number(p.offset ?? 0n)), 0);
          return sum === (await progress(knex, kafka, 'tributary', topic)).stored;
        } finally {
          await admin2.disconnect();
        }
      },
      20_000,
      'Kafka offsets to follow the checkpoints',
    );
    await second.stop();
  }, 180_000);
});
