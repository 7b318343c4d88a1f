/**
 * What the broker will never take halts capture once, naming the event, instead of a
 * restart loop that pins WAL: a record over the maximum size, a record the topic rejects,
 * and an event topic whose partition count changed (keys would move).
 */
import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import { Kafka } from 'kafkajs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { migrateOutbox } from '../migrations.js';
import type { Capturer } from './capturer.js';
import { resolveCaptureConfig, type CaptureConfig, type CaptureConfigInput } from './config.js';
import { isCaptureError } from './errors.js';
import { readTopics } from './kafka/kafka-reader.test.support.js';
import { createPostgresKafkaCapturer } from './postgres-kafka-capturer.js';

const env = await useIntegrationEnv({ label: 'limits' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
const kafka = createKafkajsClient({ brokers: env.kafkaBrokers });
// The port has no partition changes (Tributary never makes them): the raw admin plays the operator.
const operator = new Kafka({
  clientId: 'operator',
  brokers: [...env.kafkaBrokers],
  logLevel: 0,
}).admin();
await operator.connect();
afterAll(async () => {
  await operator.disconnect();
  await store.close();
  await pool.end();
});

function configFor(name: string, overrides: CaptureConfigInput = {}): CaptureConfig {
  return resolveCaptureConfig({
    name: env.name(name),
    databaseUrl: env.databaseUrl,
    kafka: { brokers: env.kafkaBrokers },
    router: { topicPrefix: env.topic(`${name}.events`) },
    heartbeatIntervalMs: 0,
    progressIntervalMs: 0,
    restartBackoffMs: 50,
    standbyRetryMs: 200,
    ...overrides,
    topics: { checkpointTopic: env.topic('checkpoints'), ...overrides.topics },
  });
}

async function start(config: CaptureConfig): Promise<{
  capturer: Capturer;
  running: Promise<void>;
  restarts: unknown[];
}> {
  const capturer = createPostgresKafkaCapturer({ config, kafka });
  const restarts: unknown[] = [];
  capturer.instrumentation.on('capture.pipeline.restarting', (event) => restarts.push(event));
  const running = capturer.run();
  running.catch(() => undefined);
  const deadline = Date.now() + 30_000;
  while (capturer.state !== 'streaming') {
    if (Date.now() > deadline) throw new Error(`capturer stuck in ${capturer.state}`);
    await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 20))]);
  }
  return { capturer, running, restarts };
}

const halted = async (running: Promise<void>): Promise<unknown> =>
  running.then(
    () => new Error('run() resolved'),
    (error: unknown) => error,
  );

async function appendOne(aggregateId: string, data: unknown): Promise<void> {
  await store.appendToStream(
    { aggregateType: 'Account', aggregateId },
    [{ type: 'AccountOpened', data }],
    { expectedVersion: 'no-stream' },
  );
}

/** Inserts a row with SQL, past the event store's own checks (as a bug or a hand-made row would). */
async function insertRaw(aggregateId: string, payloadSql: string): Promise<string> {
  const { rows } = await pool.query<{ event_id: string }>(
    `insert into tributary.events
       (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload, occurred_at)
     values (gen_random_uuid(), 'Account', $1, 1, 'AccountOpened', ${payloadSql}, now())
     returning event_id::text`,
    [aggregateId],
  );
  return rows[0]?.event_id ?? '';
}

describe('records the broker can never take', () => {
  it('halts once with CAPTURE_RECORD_TOO_LARGE naming the event, publishing nothing of its transaction or after it', async () => {
    const config = configFor('too_large');
    const topic = `${config.router.topicPrefix}.Account`;
    const { running, restarts } = await start(config);
    await appendOne('before', { ok: true });
    const reader = await readTopics(env.kafkaBrokers, [topic]);
    await reader.waitFor((records) => records.some((r) => r.key === 'before'), 20_000);
    const eventId = await insertRaw('huge', `jsonb_build_object('blob', repeat('x', 1100000))`);
    await appendOne('after', { ok: true });

    const error = await halted(running);
    expect(isCaptureError(error, 'CAPTURE_RECORD_TOO_LARGE')).toBe(true);
    expect((error as { retriable: boolean }).retriable).toBe(false);
    expect((error as Error).message).toContain(eventId);
    expect((error as Error).message).toContain('Account/huge');
    expect((error as Error).message).toMatch(/commit LSN [0-9A-F]+\/[0-9A-F]+/);
    expect(restarts).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(reader.records.map((r) => r.key)).toEqual(['before']);
    await reader.stop();
  });

  it('halts once with CAPTURE_RECORD_REJECTED when the topic refuses a record the broker default would take', async () => {
    const config = configFor('rejected');
    const topic = `${config.router.topicPrefix}.Account`;
    await operator.createTopics({
      topics: [
        { topic, numPartitions: 3, configEntries: [{ name: 'max.message.bytes', value: '20000' }] },
      ],
    });
    const { running, restarts } = await start(config);
    await appendOne('small', { ok: true });
    const reader = await readTopics(env.kafkaBrokers, [topic]);
    await reader.waitFor((records) => records.some((r) => r.key === 'small'), 20_000);
    await appendOne('fat', { blob: 'y'.repeat(50_000) });
    const error = await halted(running);
    expect(isCaptureError(error, 'CAPTURE_RECORD_REJECTED')).toBe(true);
    expect((error as Error).message).toContain('MESSAGE_TOO_LARGE');
    expect((error as Error).message).toContain('Account/fat');
    expect(restarts).toEqual([]);
    await reader.stop();
  });
});

describe('partition count changes', () => {
  it('halts with CAPTURE_PARTITIONS_CHANGED when partitions are added while capture runs, publishing nothing to the new layout', async () => {
    const config = configFor('repartitioned', { topics: { partitionCheckIntervalMs: 1 } });
    const topic = `${config.router.topicPrefix}.Account`;
    const { running } = await start(config);
    await appendOne('p-0', { n: 0 });
    const reader = await readTopics(env.kafkaBrokers, [topic]);
    await reader.waitFor((records) => records.some((r) => r.key === 'p-0'), 20_000);

    await operator.createPartitions({ topicPartitions: [{ topic, count: 8 }] });
    for (let index = 1; index <= 20; index += 1) await appendOne(`p-${index}`, { n: index });
    const error = await halted(running);
    expect(isCaptureError(error, 'CAPTURE_PARTITIONS_CHANGED')).toBe(true);
    expect((error as Error).message).toContain('has 8 partitions');
    expect((error as Error).message).toContain('recorded 3');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(reader.records.every((record) => record.partition < 3)).toBe(true);
    await reader.stop();
  });

  it('halts at the next start when partitions were added between runs', async () => {
    const config = configFor('repartitioned_stopped');
    const topic = `${config.router.topicPrefix}.Account`;
    const first = await start(config);
    await appendOne('q-0', { n: 0 });
    const reader = await readTopics(env.kafkaBrokers, [topic]);
    await reader.waitFor((records) => records.some((r) => r.key === 'q-0'), 20_000);
    await first.capturer.stop();
    await first.running;

    await operator.createPartitions({ topicPartitions: [{ topic, count: 5 }] });
    const second = await start(config);
    await appendOne('q-1', { n: 1 });
    const error = await halted(second.running);
    expect(isCaptureError(error, 'CAPTURE_PARTITIONS_CHANGED')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(reader.records.map((r) => r.key)).toEqual(['q-0']);
    await reader.stop();
  });
});
