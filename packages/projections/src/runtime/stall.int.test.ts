import { createKafkajsClient } from '@tributary/kafkajs';
import type { CounterEvent } from '@tributary/testing';
import { useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { isTributaryError } from '@tributary/core';
import { defineProjection } from '../projection.js';
import { produceCounterEvents } from '../test-support/counter-events.js';
import { applicationsProjection } from '../test-support/counter-projection.js';
import { applicationReport, waitUntil } from '../test-support/verify.js';
import { createProjectionRuntime } from './kafka-runtime.js';

const env = await useIntegrationEnv({ label: 'proj_stall' });
const kafka = createKafkajsClient({ clientId: 'proj-stall', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 8 } });
const topic = env.topic('events.Counter');
const config = {
  topicPrefix: `${env.topicPrefix}events`,
  groupIdPrefix: env.name('projection'),
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
  stallTimeoutMs: 3_000,
};

// The hanging handler keeps its pooled connection forever, and knex's destroy() waits for
// every connection in use: that runtime gets its own pool, left behind after a short wait.
const stalledKnex = knexFactory({
  client: 'pg',
  connection: env.databaseUrl,
  pool: { min: 0, max: 4 },
});

afterAll(async () => {
  await knex.destroy();
  await Promise.race([
    stalledKnex.destroy(),
    new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
  ]);
});

/** Hangs forever on the 5th event of counter c0: a handler whose promise never settles. */
const hanging = defineProjection<CounterEvent, 'seen'>({
  name: 'hanging',
  version: 1,
  aggregateTypes: ['Counter'],
  tables: ['seen'],
  migrations: [
    {
      name: '0001_seen',
      async up(_trx, migration) {
        await migration.createTable('seen', (table) => {
          table.text('event_id').primary();
        });
      },
    },
  ],
  handlers: {
    async Incremented(event, { trx, tables }) {
      if (event.aggregateId === 'c0' && event.aggregateVersion === 5)
        await new Promise(() => undefined);
      await trx(tables.seen).insert({ event_id: event.eventId });
    },
  },
});

describe('the projection stall watchdog', () => {
  it('stops the runtime with PROJECTION_STALLED when a checkpoint stays put with records beyond it, and never fires for a projection that is caught up', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
    await admin.disconnect();
    const produced = await produceCounterEvents(kafka, topic, {
      counters: 2,
      versions: 10,
      transactionSize: 4,
      transactionalId: env.name('producer'),
    });

    // Caught up and idle for three stall timeouts: the transaction markers at the end of
    // the log must not look like records left to apply.
    const healthy = createProjectionRuntime({
      kafka,
      knex,
      projections: [applicationsProjection],
      config,
    });
    let healthyFailure: unknown;
    healthy.stopped.catch((error: unknown) => {
      healthyFailure = error;
    });
    await healthy.start();
    await waitUntil(
      async () => (await applicationReport(knex, 'public')).events === produced,
      60_000,
      'the healthy projection to catch up',
    );
    const caughtUpAt = Date.now();

    const stalled = createProjectionRuntime({
      kafka,
      knex: stalledKnex,
      projections: [hanging],
      config,
    });
    const started = Date.now();
    await stalled.start();
    const error = await stalled.stopped.then(
      () => undefined,
      (failure: unknown) => failure,
    );
    const tookMs = Date.now() - started;
    expect(isTributaryError(error, 'PROJECTION_STALLED')).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(`Projection "hanging" v1 stalled: ${topic}/0 \\(checkpoint \\d+, records up to`),
    );
    expect((error as Error).message).toMatch(/supervisor restarts it/);
    // Not before the timeout; well before a test timeout (a probe every 750 ms).
    expect(tookMs).toBeGreaterThanOrEqual(config.stallTimeoutMs);
    // The events before the hanging one were applied and committed; nothing after it.
    const seen = await knex('public.seen').count<{ n: string }[]>({ n: '*' });
    expect(Number(seen[0]?.n)).toBeLessThan(produced);

    // Idle (caught up) for at least three stall timeouts, never reported.
    const idleMs = 3 * config.stallTimeoutMs - (Date.now() - caughtUpAt);
    if (idleMs > 0) await new Promise((resolve) => setTimeout(resolve, idleMs));
    expect(healthyFailure).toBeUndefined();
    await healthy.stop();
    await healthy.stopped;
    expect(await applicationReport(knex, 'public')).toEqual({
      events: produced,
      duplicates: 0,
      outOfOrder: [],
    });
  }, 120_000);
});
