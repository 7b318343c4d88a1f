/**
 * Checkpoint identity and reading on the real stack: a checkpoint written for another
 * database, another slot or a future the database never had halts capture before anything
 * is published (and, for a second deployment under the same name, before it fences the
 * first); old checkpoints without identity are adopted; the latest committed checkpoint is
 * read while another producer keeps a transaction open on the checkpoint topic.
 */
import type { NewEvent } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv, type IntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { migrateOutbox } from '../migrations.js';
import type { Capturer } from './capturer.js';
import { resolveCaptureConfig, type CaptureConfig, type CaptureConfigInput } from './config.js';
import { isCaptureError } from './errors.js';
import { readTopics } from './kafka/kafka-reader.test.support.js';
import { formatLsn } from './lsn.js';
import { createPostgresKafkaCapturer } from './postgres-kafka-capturer.js';

const env = await useIntegrationEnv({ label: 'identity' });
const other = await useIntegrationEnv({ label: 'identity_other' });
const stores = new Map<IntegrationEnv, PostgresEventStore>();
for (const each of [env, other]) {
  await migrateOutbox({ connectionString: each.databaseUrl });
  stores.set(each, new PostgresEventStore({ connectionString: each.databaseUrl }));
}
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
const kafka = createKafkajsClient({ brokers: env.kafkaBrokers });
afterAll(async () => {
  await Promise.all([...stores.values()].map((store) => store.close()));
  await pool.end();
});

function configFor(
  where: IntegrationEnv,
  name: string,
  overrides: CaptureConfigInput = {},
): CaptureConfig {
  return resolveCaptureConfig({
    name,
    databaseUrl: where.databaseUrl,
    kafka: { brokers: env.kafkaBrokers },
    router: { topicPrefix: env.topic(`${name}.events`) },
    heartbeatIntervalMs: 0,
    progressIntervalMs: 0,
    restartBackoffMs: 50,
    standbyRetryMs: 200,
    ...overrides,
    topics: { checkpointTopic: env.topic(`${name}.checkpoints`), ...overrides.topics },
  });
}

async function untilStreaming(capturer: Capturer, running: Promise<void>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (capturer.state !== 'streaming') {
    if (Date.now() > deadline) throw new Error(`capturer stuck in ${capturer.state}`);
    await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 20))]);
  }
}

const opened = (owner: string): NewEvent[] => [{ type: 'AccountOpened', data: { owner } }];

async function append(where: IntegrationEnv, aggregateId: string): Promise<void> {
  await stores
    .get(where)
    ?.appendToStream({ aggregateType: 'Account', aggregateId }, opened(aggregateId), {
      expectedVersion: 'no-stream',
    });
}

/** Starts a capturer, appends one event per id and waits until all are in Kafka. */
async function captureEvents(
  config: CaptureConfig,
  where: IntegrationEnv,
  ids: readonly string[],
): Promise<{ capturer: Capturer; running: Promise<void> }> {
  const capturer = createPostgresKafkaCapturer({ config, kafka });
  const running = capturer.run();
  await untilStreaming(capturer, running);
  // The topic exists once the first event is published: append first, then read from the start.
  for (const id of ids) await append(where, id);
  const reader = await readTopics(env.kafkaBrokers, [`${config.router.topicPrefix}.Account`]);
  try {
    await reader.waitFor(
      (records) => ids.every((id) => records.some((record) => record.key === id)),
      20_000,
    );
  } finally {
    await reader.stop();
  }
  return { capturer, running };
}

/** Writes a checkpoint record as another producer would (e.g. an older Tributary). */
async function writeCheckpoint(config: CaptureConfig, value: string): Promise<void> {
  const producer = kafka.producer({ transactionalId: `${config.name}-test-writer` });
  await producer.connect();
  const transaction = await producer.begin();
  await transaction.send([
    { topic: config.topics.checkpointTopic, messages: [{ key: config.name, value }] },
  ]);
  await transaction.commit();
  await producer.disconnect();
}

async function checkpointRecord(config: CaptureConfig): Promise<Record<string, unknown>> {
  let latest: Record<string, unknown> = {};
  await kafka.readCommitted(config.topics.checkpointTopic, (record) => {
    if (record.key !== null && Buffer.from(record.key).toString() === config.name) {
      latest = JSON.parse(Buffer.from(record.value ?? []).toString()) as Record<string, unknown>;
    }
  });
  return latest;
}

const failureOf = (running: Promise<void>): Promise<unknown> =>
  running.then(
    () => new Error('run() resolved'),
    (error: unknown) => error,
  );

describe('checkpoint identity', () => {
  it('records the system identifier, database and slot, and halts a second deployment that reuses the name before it fences the first', async () => {
    const name = env.name('shared');
    const first = configFor(env, name);
    const { capturer, running } = await captureEvents(first, env, ['first-1']);

    const record = await checkpointRecord(first);
    const { rows } = await pool.query<{ system: string; db: string }>(
      'select system_identifier::text as system, current_database() as db from pg_control_system()',
    );
    expect(record).toMatchObject({
      version: 2,
      systemIdentifier: rows[0]?.system,
      database: rows[0]?.db,
      slot: first.slot.name,
    });

    // Same name and Kafka cluster, another database (its own slot, as on another server).
    const second = configFor(other, name, { slot: { name: `${other.namespace}_slot` } });
    const intruder = createPostgresKafkaCapturer({ config: second, kafka });
    const error = await failureOf(intruder.run());
    expect(isCaptureError(error, 'CAPTURE_CHECKPOINT_FOREIGN')).toBe(true);
    expect((error as Error).message).toContain(other.database);
    expect((error as Error).message).toContain(env.database);

    // The first deployment was never fenced: it keeps publishing without a restart.
    const restarts: unknown[] = [];
    capturer.instrumentation.on('capture.pipeline.restarting', (event) => restarts.push(event));
    const reader = await readTopics(env.kafkaBrokers, [`${first.router.topicPrefix}.Account`]);
    await append(env, 'first-2');
    await reader.waitFor((records) => records.some((r) => r.key === 'first-2'), 20_000);
    await reader.stop();
    expect(restarts).toEqual([]);
    expect(capturer.state).toBe('streaming');
    await capturer.stop();
    await running;
  });

  it('halts when the slot changed under the same capturer name', async () => {
    const name = env.name('slot_changed');
    const { capturer, running } = await captureEvents(configFor(env, name), env, ['slot-1']);
    await capturer.stop();
    await running;
    const moved = configFor(env, name, { slot: { name: `${env.namespace}_moved` } });
    const error = await failureOf(createPostgresKafkaCapturer({ config: moved, kafka }).run());
    expect(isCaptureError(error, 'CAPTURE_CHECKPOINT_SLOT_CHANGED')).toBe(true);
    expect((error as Error).message).toContain(`tributary_${name}`);
  });

  it('halts when the slot was dropped and recreated by hand, before publishing anything', async () => {
    const name = env.name('recreated');
    const config = configFor(env, name);
    const first = await captureEvents(config, env, ['recreated-1']);
    await first.capturer.stop();
    await first.running;
    await pool.query('select pg_drop_replication_slot($1)', [config.slot.name]);
    // Committed while no slot exists: lost to Kafka, which is what the halt must reveal.
    await append(env, 'recreated-lost');
    await pool.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [
      config.slot.name,
    ]);
    const capturer = createPostgresKafkaCapturer({ config, kafka });
    const batches: unknown[] = [];
    capturer.instrumentation.on('capture.batch.committed', (event) => batches.push(event));
    const running = capturer.run();
    await append(env, 'recreated-2');
    const error = await failureOf(running);
    expect(isCaptureError(error, 'CAPTURE_SLOT_RECREATED')).toBe(true);
    expect((error as Error).message).toContain(config.slot.name);
    expect(batches).toEqual([]);
  });

  it('halts when the checkpoint is ahead of the database WAL (a database restored from a backup)', async () => {
    const name = env.name('restored');
    const config = configFor(env, name);
    const { capturer, running } = await captureEvents(config, env, ['restored-1']);
    await capturer.stop();
    await running;
    // What a restore looks like from the capturer: Kafka holds a checkpoint the WAL never reached.
    const record = await checkpointRecord(config);
    await writeCheckpoint(config, JSON.stringify({ ...record, commitLsn: 'FF/0' }));
    const error = await failureOf(createPostgresKafkaCapturer({ config, kafka }).run());
    expect(isCaptureError(error, 'CAPTURE_CHECKPOINT_AHEAD')).toBe(true);
    expect((error as Error).message).toContain('FF/0');
  });

  it('adopts a checkpoint written before identities and writes the identity with the next commit', async () => {
    const name = env.name('legacy');
    const config = configFor(env, name);
    const first = await captureEvents(config, env, ['legacy-1']);
    await first.capturer.stop();
    await first.running;
    const record = await checkpointRecord(config);
    await writeCheckpoint(
      config,
      JSON.stringify({ commitLsn: record['commitLsn'], slot: config.slot.name }),
    );
    const loaded: unknown[] = [];
    const capturer = createPostgresKafkaCapturer({ config, kafka });
    capturer.instrumentation.on('capture.checkpoint.loaded', (event) => loaded.push(event));
    const running = capturer.run();
    await untilStreaming(capturer, running);
    expect(loaded).toEqual([{ commitLsn: record['commitLsn'] }]);
    const reader = await readTopics(env.kafkaBrokers, [`${config.router.topicPrefix}.Account`]);
    await append(env, 'legacy-2');
    await reader.waitFor((records) => records.some((r) => r.key === 'legacy-2'), 20_000);
    expect(reader.records.filter((r) => r.key === 'legacy-1')).toHaveLength(1);
    await reader.stop();
    await capturer.stop();
    await running;
    expect(await checkpointRecord(config)).toMatchObject({
      version: 2,
      systemIdentifier: record['systemIdentifier'],
      database: env.database,
    });
  });
});

describe('reading the checkpoint', () => {
  it('returns the latest committed checkpoint while another producer keeps a transaction open on the checkpoint topic', async () => {
    const name = env.name('open_foreign');
    const config = configFor(env, name);
    const first = await captureEvents(config, env, ['foreign-1']);
    // Another capturer's transaction, open and never finished while we work.
    const foreign = kafka.producer({
      transactionalId: `${name}-foreign`,
      transactionTimeoutMs: 120_000,
    });
    await foreign.connect();
    const open = await foreign.begin();
    await open.send([
      {
        topic: config.topics.checkpointTopic,
        messages: [{ key: `${name}-other`, value: '{"commitLsn":"0/1","slot":"x"}' }],
      },
    ]);
    try {
      const reader = await readTopics(env.kafkaBrokers, [`${config.router.topicPrefix}.Account`]);
      await append(env, 'foreign-2');
      await reader.waitFor((records) => records.some((r) => r.key === 'foreign-2'), 20_000);
      await reader.stop();
      await first.capturer.stop();
      await first.running;
      const latest = await checkpointRecord(config);
      const admin = kafka.admin();
      await admin.connect();
      const offsets = (await admin.fetchOffsets(config.topics.checkpointTopic))[0];
      await admin.disconnect();
      // The open transaction hides the latest checkpoint from a read_committed consumer.
      expect(offsets?.lastStableOffset).toBeLessThan(offsets?.highWatermark ?? 0n);

      const loaded: { commitLsn: string | null }[] = [];
      const capturer = createPostgresKafkaCapturer({ config, kafka });
      capturer.instrumentation.on('capture.checkpoint.loaded', (event) => loaded.push(event));
      const running = capturer.run();
      await untilStreaming(capturer, running);
      expect(loaded).toEqual([{ commitLsn: latest['commitLsn'] }]);
      expect(typeof latest['commitLsn']).toBe('string');
      expect(latest['commitLsn']).not.toBe(formatLsn(0n));
      await capturer.stop();
      await running;
    } finally {
      await open.abort();
      await foreign.disconnect();
    }
  });
});
