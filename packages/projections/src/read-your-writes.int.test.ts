/**
 * Read-your-writes on the real stack: a reader that got a consistency token waits on the
 * Kafka projection runtime until the read model shows those versions.
 */
import { encodeConsistencyToken } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsistencyTimeoutError } from './read-your-writes.js';
import { createProjectionRuntime } from './runtime/kafka-runtime.js';
import { applicationsProjection } from './test-support/counter-projection.js';
import { produceCounterEvents } from './test-support/counter-events.js';

const env = await useIntegrationEnv({ label: 'proj_ryw' });
const kafka = createKafkajsClient({ clientId: 'proj-ryw', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 4 } });
const topic = env.topic('events.Counter');
afterAll(async () => {
  await knex.destroy();
});

describe('waitFor on the Kafka projection runtime', () => {
  it('resolves when the projection has applied the token, times out with a typed error before', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ topic, partitions: 2, replicationFactor: 1 }]);
    await admin.disconnect();
    const runtime = createProjectionRuntime({
      kafka,
      knex,
      projections: [applicationsProjection],
      config: {
        topicPrefix: `${env.topicPrefix}events`,
        groupIdPrefix: env.name('projection'),
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 500,
      },
    });
    await runtime.start();
    try {
      const token = encodeConsistencyToken([
        { aggregateType: 'Counter', aggregateId: 'c3', version: 30 },
        { aggregateType: 'Counter', aggregateId: 'c0', version: 30 },
      ]);
      // Nothing produced yet: the wait ends, typed, saying where each aggregate is.
      const early = await runtime
        .waitFor('applications', token, { timeoutMs: 300 })
        .catch((error: unknown) => error);
      expect(early).toBeInstanceOf(ConsistencyTimeoutError);
      expect(
        (early as ConsistencyTimeoutError).behind.map((b) => [b.aggregateId, b.applied]),
      ).toEqual([
        ['c3', 0],
        ['c0', 0],
      ]);

      const waiting = runtime.waitFor('applications', token, { timeoutMs: 60_000 });
      await produceCounterEvents(kafka, topic, {
        counters: 4,
        versions: 30,
        transactionalId: env.name('producer'),
      });
      await waiting;
      const { rows } = await knex.raw<{ rows: { counter_id: string; n: string }[] }>(
        `select counter_id, count(*) as n from public.applications_v1 where counter_id in ('c0', 'c3') group by counter_id order by counter_id`,
      );
      expect(rows).toEqual([
        { counter_id: 'c0', n: '30' },
        { counter_id: 'c3', n: '30' },
      ]);
    } finally {
      await runtime.stop();
    }
  }, 120_000);
});
