import { envelopeFromHeaders, EventHeaders, type Logger, type NewEvent } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { migrateOutbox } from '../migrations.js';
import type { Capturer } from './capturer.js';
import { createPostgresKafkaCapturer } from './postgres-kafka-capturer.js';
import { resolveCaptureConfig, type CaptureConfig, type CaptureConfigInput } from './config.js';
import { CaptureError, isCaptureError } from './errors.js';
import { readTopics } from './kafka/kafka-reader.test.support.js';
import { parseLsn } from './lsn.js';

const env = await useIntegrationEnv({ label: 'capture' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 4 });
const kafka = createKafkajsClient({ brokers: env.kafkaBrokers });
const admin = kafka.admin();
await admin.connect();
afterAll(async () => {
  await admin.disconnect();
  await store.close();
  await pool.end();
});

const topic = (aggregateType: string): string => env.topic(`events.${aggregateType}`);

function configFor(name: string, overrides: CaptureConfigInput = {}): CaptureConfig {
  const base = {
    name: env.name(name),
    databaseUrl: env.databaseUrl,
    kafka: { brokers: env.kafkaBrokers },
    router: { topicPrefix: env.topic('events'), onUnroutable: 'warn' },
    topics: {
      checkpointTopic: env.topic('checkpoints'),
      transactionTopic: env.topic('transactions'),
    },
    heartbeatIntervalMs: 0,
    progressIntervalMs: 0,
    restartBackoffMs: 50,
    standbyRetryMs: 200,
  } satisfies CaptureConfigInput;
  // Sections merge one level deep: an override of router.topicPrefix keeps onUnroutable.
  return resolveCaptureConfig({
    ...base,
    ...overrides,
    kafka: { ...base.kafka, ...overrides.kafka },
    router: { ...base.router, ...overrides.router },
    topics: { ...base.topics, ...overrides.topics },
  });
}

interface Captured {
  readonly warnings: string[];
  readonly logger: Logger;
}

function captureLogs(): Captured {
  const warnings: string[] = [];
  return {
    warnings,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (message) => warnings.push(message),
      error: (message) => warnings.push(message),
    },
  };
}

async function untilStreaming(capturer: Capturer, running: Promise<void>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (capturer.state !== 'streaming') {
    if (Date.now() > deadline) throw new Error(`capturer stuck in ${capturer.state}`);
    await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 20))]);
  }
}

const event = (type: string, data: unknown): NewEvent => ({ type, data });

describe('the WAL capturer', () => {
  it('publishes committed events once, whole transactions with commit LSN and sequence, nothing rolled back', async () => {
    const config = configFor('basic');
    const capturer = createPostgresKafkaCapturer({ config, kafka });
    const running = capturer.run();
    await untilStreaming(capturer, running);

    await store.appendToStream(
      { aggregateType: 'Account', aggregateId: 'acc-1' },
      [event('AccountOpened', { owner: 'Ada' }), event('MoneyDeposited', { amount: 10 })],
      { expectedVersion: 'no-stream' },
    );
    // One source transaction over two aggregates of two types.
    await store.appendMany([
      {
        stream: { aggregateType: 'Account', aggregateId: 'acc-2' },
        events: [event('AccountOpened', { owner: 'Bob' })],
        expectedVersion: 'no-stream',
      },
      {
        stream: { aggregateType: 'Transfer', aggregateId: 'tr-1' },
        events: [event('TransferStarted', { amount: 5 })],
        expectedVersion: 'no-stream',
      },
    ]);
    const client = await pool.connect();
    try {
      await client.query('begin');
      await store
        .withTransaction(client)
        .appendToStream({ aggregateType: 'Account', aggregateId: 'acc-rolled-back' }, [
          event('AccountOpened', { owner: 'Nobody' }),
        ]);
      await client.query('rollback');
    } finally {
      client.release();
    }
    // Committed after the rollback: once it is visible, the rolled-back one had its chance.
    await store.appendToStream({ aggregateType: 'Account', aggregateId: 'acc-1' }, [
      event('MoneyWithdrawn', { amount: 3 }),
    ]);

    const reader = await readTopics(env.kafkaBrokers, [
      topic('Account'),
      topic('Transfer'),
      env.topic('transactions'),
      env.topic('checkpoints'),
    ]);
    try {
      const events = () => reader.records.filter((record) => record.topic.includes('.events.'));
      await reader.waitFor(() => events().length >= 5, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const seen = events();
      expect(
        seen.map((record) => `${record.key}:${record.headers[EventHeaders.eventType]}`).sort(),
      ).toEqual([
        'acc-1:AccountOpened',
        'acc-1:MoneyDeposited',
        'acc-1:MoneyWithdrawn',
        'acc-2:AccountOpened',
        'tr-1:TransferStarted',
      ]);
      expect(seen.some((record) => record.key === 'acc-rolled-back')).toBe(false);

      for (const record of seen) {
        const envelope = envelopeFromHeaders(record.headers);
        expect(record.topic).toBe(topic(envelope.aggregateType));
        expect(record.key).toBe(envelope.aggregateId);
        expect(JSON.parse(record.value)).toBeTypeOf('object');
      }
      // The two-aggregate transaction: one commit LSN, sequence 0 and 1.
      const multi = seen.filter((record) => ['acc-2', 'tr-1'].includes(record.key));
      expect(new Set(multi.map((record) => record.headers[EventHeaders.commitLsn])).size).toBe(1);
      expect(
        multi.map((record) => record.headers[EventHeaders.transactionSequence]).sort(),
      ).toEqual(['0', '1']);
      // acc-1 in partition order: versions 1, 2, 3.
      const acc1 = seen
        .filter((record) => record.key === 'acc-1')
        .sort((a, b) => (a.offset < b.offset ? -1 : 1))
        .map((record) => record.headers[EventHeaders.aggregateVersion]);
      expect(acc1).toEqual(['1', '2', '3']);

      // The checkpoint is the commit LSN of the last transaction published.
      const lastLsn = seen
        .map((record) => parseLsn(record.headers[EventHeaders.commitLsn] ?? '0/0'))
        .reduce((a, b) => (a > b ? a : b));
      await reader.waitFor(
        () =>
          reader.records.some(
            (record) =>
              record.topic === env.topic('checkpoints') &&
              record.key === config.name &&
              parseLsn((JSON.parse(record.value) as { commitLsn: string }).commitLsn) === lastLsn,
          ),
        10_000,
      );
      // Transaction metadata: one record per source transaction with its event count. The
      // summaries are keyed by commit LSN, so they spread over partitions: order by LSN.
      const transactions = reader.records
        .filter((record) => record.topic === env.topic('transactions'))
        .map(
          (record) =>
            JSON.parse(record.value) as { eventCount: number; capturer: string; commitLsn: string },
        )
        .filter((summary) => summary.capturer === config.name)
        .sort((a, b) => (parseLsn(a.commitLsn) < parseLsn(b.commitLsn) ? -1 : 1));
      expect(transactions.map((summary) => summary.eventCount)).toEqual([2, 2, 1]);
    } finally {
      await reader.stop();
      // Stopped here too when an assertion failed: a running capturer would hold the slot
      // that a later test drops.
      await capturer.stop();
    }
    await running;
    expect(capturer.state).toBe('stopped');
    // Graceful stop confirmed everything published to PostgreSQL.
    const { rows } = await pool.query<{ lag: string }>(
      `select (pg_current_wal_lsn() - confirmed_flush_lsn)::text as lag from pg_replication_slots where slot_name = $1`,
      [config.slot.name],
    );
    expect(Number(rows[0]?.lag)).toBeLessThan(1024 * 1024);
  });

  it('skips source transactions at or below the checkpoint after a failure between Kafka commit and LSN ack', async () => {
    let failed = false;
    const config = configFor('skip', { router: { topicPrefix: env.topic('skipped') } });
    const capturer = createPostgresKafkaCapturer({
      config,
      kafka,
      crashPoints: (point) => {
        if (point === 'after-commit' && !failed) {
          failed = true;
          throw new CaptureError('CAPTURE_KAFKA_INDETERMINATE', 'simulated crash after commit', {
            retriable: true,
          });
        }
      },
    });
    const skipped: string[] = [];
    capturer.instrumentation.on('capture.transaction.skipped', ({ commitLsn }) =>
      skipped.push(commitLsn),
    );
    const restarts: string[] = [];
    capturer.instrumentation.on('capture.pipeline.restarting', ({ error }) => restarts.push(error));
    const running = capturer.run();
    await untilStreaming(capturer, running);
    for (let version = 1; version <= 3; version += 1) {
      await store.appendToStream({ aggregateType: 'Order', aggregateId: 'o-1' }, [
        event('LineAdded', { version }),
      ]);
    }
    const reader = await readTopics(env.kafkaBrokers, [env.topic('skipped.Order')]);
    try {
      await reader.waitFor(() => reader.records.length >= 3, 20_000);
      const deadline = Date.now() + 10_000;
      while (skipped.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(restarts).toEqual(['simulated crash after commit']);
      // The slot sent the committed-but-unacknowledged transaction again; it was dropped.
      expect(skipped.length).toBeGreaterThanOrEqual(1);
      expect(reader.records.map((record) => record.headers[EventHeaders.aggregateVersion])).toEqual(
        ['1', '2', '3'],
      );
    } finally {
      await reader.stop();
      await capturer.stop();
    }
  });

  it('creates topics with infinite retention, a compacted checkpoint topic, and warns about topics that cannot be replayed', async () => {
    const legacy = env.topic('legacy.Ledger');
    await admin.createTopics([
      { topic: legacy, partitions: 1, configs: { 'retention.ms': '60000' } },
    ]);
    const logs = captureLogs();
    const capturer = createPostgresKafkaCapturer({
      kafka,
      config: configFor('topics', { router: { topicPrefix: env.topic('legacy') } }),
      logger: logs.logger,
    });
    const running = capturer.run();
    await untilStreaming(capturer, running);
    await store.appendToStream({ aggregateType: 'Ledger', aggregateId: 'l-1' }, [
      event('Posted', {}),
    ]);
    await store.appendToStream({ aggregateType: 'Journal', aggregateId: 'j-1' }, [
      event('Posted', {}),
    ]);
    const reader = await readTopics(env.kafkaBrokers, [legacy, env.topic('legacy.Journal')]);
    await reader.waitFor(() => reader.records.length >= 2, 20_000);
    await reader.stop();
    await capturer.stop();

    expect(
      logs.warnings.some((line) => line.includes(`TOPIC ${legacy} CANNOT BE REPLAYED SAFELY`)),
    ).toBe(true);
    const journal = await admin.describeTopic(env.topic('legacy.Journal'));
    const checkpoints = await admin.describeTopic(env.topic('checkpoints'));
    expect(journal.configs['retention.ms']).toBe('-1');
    expect(checkpoints.configs['cleanup.policy']).toBe('compact');
    expect(journal.partitions).toBe(3);
  });

  it('halts with CAPTURE_SLOT_LOST when its slot is gone although a checkpoint exists, and never recreates it', async () => {
    const config = configFor('basic'); // has a checkpoint from the first test
    await pool.query('select pg_drop_replication_slot($1)', [config.slot.name]);
    const error = await createPostgresKafkaCapturer({ config, kafka })
      .run()
      .then(
        () => undefined,
        (failure: unknown) => failure,
      );
    expect(isCaptureError(error, 'CAPTURE_SLOT_LOST')).toBe(true);
    expect((error as Error).message).toMatch(/never recreates a slot silently/);
    const { rows } = await pool.query('select 1 from pg_replication_slots where slot_name = $1', [
      config.slot.name,
    ]);
    expect(rows).toHaveLength(0);
  });

  it('refuses to create a missing slot or publication when configured not to', async () => {
    const noSlot = await createPostgresKafkaCapturer({
      kafka,
      config: configFor('noslot', { slot: { create: false } }),
    })
      .run()
      .then(
        () => undefined,
        (failure: unknown) => failure,
      );
    expect(isCaptureError(noSlot, 'CAPTURE_SLOT_MISSING')).toBe(true);
    const noPublication = await createPostgresKafkaCapturer({
      kafka,
      config: configFor('nopub', { slot: { createPublication: false } }),
    })
      .run()
      .then(
        () => undefined,
        (failure: unknown) => failure,
      );
    expect(isCaptureError(noPublication, 'CAPTURE_PUBLICATION_MISSING')).toBe(true);
  });

  it('halts on an unroutable row under the fatal policy, publishing nothing of its transaction', async () => {
    const config = configFor('fatal', {
      router: { topicPrefix: env.topic('fatal'), onUnroutable: 'fatal' },
    });
    const capturer = createPostgresKafkaCapturer({ config, kafka });
    const running = capturer.run();
    await untilStreaming(capturer, running);
    await pool.query(
      `insert into tributary.events (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload, occurred_at)
       values (gen_random_uuid(), 'Bad Type', 'x', 1, 'Happened', '{}', now())`,
    );
    const error = await running.then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(isCaptureError(error, 'CAPTURE_UNROUTABLE_EVENT')).toBe(true);
    expect(capturer.publishedEvents).toBe(0);
  });
});
