/**
 * The record size that the stores check at append, against what capture really publishes
 * on the real stack: PostgreSQL's jsonb rendering, the headers capture writes, and the
 * broker's own measure (a topic's `max.message.bytes` accepts a record batch of exactly that
 * many bytes and refuses one byte more).
 */
import {
  DEFAULT_MAX_RECORD_BYTES,
  eventRecordSize,
  EventHeaders,
  isTributaryError,
  renderJsonbText,
  unnumberedEventRecordSize,
  uuidV7,
  type EventEnvelope,
  type KafkaAdmin,
  type NewEvent,
  type StreamRef,
} from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveCaptureConfig } from '../capture/config.js';
import { readTopics, type SeenRecord } from '../capture/kafka/kafka-reader.test.support.js';
import { createPostgresKafkaCapturer } from '../capture/postgres-kafka-capturer.js';
import { migrateOutbox } from '../migrations.js';
import { PostgresEventStore } from './postgres-event-store.js';

const env = await useIntegrationEnv({ label: 'recsize' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
const kafka = createKafkajsClient({ brokers: env.kafkaBrokers });
const admin: KafkaAdmin = kafka.admin();
await admin.connect();
afterAll(async () => {
  await admin.disconnect();
  await store.close();
  await pool.end();
});

const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');
const topicOf = (aggregateType: string): string => env.topic(`events.${aggregateType}`);

/** Payloads whose jsonb text differs from JSON.stringify, one aggregate type (topic) each. */
const tricky: readonly { type: string; event: NewEvent }[] = [
  {
    type: 'Exponents',
    event: {
      type: 'Measured',
      data: { small: 1.5e-7, tiny: -2.5e-300, list: [1e-300, 5e-324, 0.1, 123.456, -0, 1e-6] },
    },
  },
  {
    type: 'Unicode',
    event: { type: 'Named', data: { text: 'é 🎉 ключ 日本', 'ключ🎉': 'ü', ab: 1, b: 2 } },
  },
  {
    type: 'Escapes',
    event: {
      type: 'Noted',
      data: { text: 'quote " backslash \\ tab \t nl \n cr \r ctrl \u0001\u001f slash / \u2028' },
    },
  },
  {
    type: 'Nested',
    event: {
      type: 'Built',
      data: { a: { b: { c: [[], {}, [{ d: null, e: true, f: false }]] } }, z: 'short', yy: 1 },
      metadata: {
        correlationId: 'corr-é',
        causationId: 'cause-1',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tenant: 'ü',
        ratio: 1e-9,
      },
    },
  },
];

async function createTopic(topic: string, maxMessageBytes: number): Promise<void> {
  await admin.createTopics([
    { topic, partitions: 1, configs: { 'max.message.bytes': String(maxMessageBytes) } },
  ]);
}

/** Produces `record` as capture published it, alone in its batch; resolves to whether the broker took it. */
async function brokerAccepts(record: SeenRecord, topic: string): Promise<boolean> {
  const producer = kafka.producer({ retry: { retries: 1, initialMs: 10 } });
  await producer.connect();
  try {
    await producer.send([
      {
        topic,
        messages: [{ key: record.key, value: record.valueBytes, headers: record.headers }],
      },
    ]);
    return true;
  } catch (error) {
    expect(String(error)).toMatch(/large|size/i);
    return false;
  } finally {
    await producer.disconnect();
  }
}

/** An event whose bound at append is exactly `targetBytes` (the string length settles the varints). */
function eventOfRecordSize(stream: StreamRef, targetBytes: number): NewEvent {
  const eventId = uuidV7();
  const occurredAt = new Date().toISOString();
  let length = 1_000;
  for (;;) {
    const payload = { text: 'y'.repeat(length) };
    const { totalBytes } = unnumberedEventRecordSize({
      eventId,
      ...stream,
      eventType: 'Sized',
      schemaVersion: 1,
      payload,
      metadata: {},
      occurredAt,
    });
    if (totalBytes === targetBytes) return { eventId, type: 'Sized', data: payload, occurredAt };
    length += targetBytes - totalBytes;
  }
}

describe('record size on the real stack', () => {
  it('equals what capture publishes, as the broker measures it, for tricky payloads; refuses over the limit at append and captures at the limit', async () => {
    const config = resolveCaptureConfig({
      name: env.name('recsize'),
      databaseUrl: env.databaseUrl,
      kafka: { brokers: env.kafkaBrokers },
      router: { topicPrefix: env.topic('events') },
      topics: { checkpointTopic: env.topic('checkpoints'), partitions: 1 },
      heartbeatIntervalMs: 0,
      progressIntervalMs: 0,
      restartBackoffMs: 50,
    });
    const capturer = createPostgresKafkaCapturer({ config, kafka });
    const running = capturer.run();
    const deadline = Date.now() + 60_000;
    while (capturer.state !== 'streaming') {
      if (Date.now() > deadline) throw new Error(`capturer stuck in ${capturer.state}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const stored: EventEnvelope[] = [];
    for (const { type, event } of tricky) {
      const envelope: EventEnvelope = {
        eventId: uuidV7(),
        aggregateType: type,
        aggregateId: `id-${type}-é`,
        aggregateVersion: 1,
        eventType: event.type,
        schemaVersion: 1,
        payload: event.data,
        metadata: event.metadata ?? {},
        occurredAt: new Date().toISOString(),
      };
      // The topic takes exactly the size computed before the LSN and sequence are known (at
      // their longest): capture can publish the record only if that bound is not too small.
      await createTopic(topicOf(type), eventRecordSize(envelope).totalBytes);
      const result = await store.appendToStream(
        { aggregateType: type, aggregateId: envelope.aggregateId },
        [{ ...event, eventId: envelope.eventId, occurredAt: envelope.occurredAt }],
      );
      expect(result.events[0]).toEqual(envelope);
      stored.push(envelope);
    }
    const big: StreamRef = { aggregateType: 'Big', aggregateId: 'big-1' };
    const over = eventOfRecordSize(big, DEFAULT_MAX_RECORD_BYTES + 1);
    const refused = await store.appendToStream(big, [over]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isTributaryError(refused, 'RECORD_TOO_LARGE'), String(refused)).toBe(true);
    const { rows } = await pool.query<{ n: number }>(
      'select count(*)::int as n from tributary.events where aggregate_type = $1',
      ['Big'],
    );
    expect(rows[0]?.n).toBe(0);
    // Capture creates this topic: the broker's default message.max.bytes applies.
    const atLimit = eventOfRecordSize(big, DEFAULT_MAX_RECORD_BYTES);
    await store.appendToStream(big, [atLimit]);

    const topics = [...tricky.map(({ type }) => topicOf(type)), topicOf('Big')];
    const reader = await readTopics(env.kafkaBrokers, topics);
    try {
      await reader.waitFor((records) => records.length >= topics.length, 90_000);
    } finally {
      await reader.stop();
      await capturer.stop();
      await running;
    }
    expect(reader.records).toHaveLength(topics.length);

    const bigRecord = reader.records.find((record) => record.topic === topicOf('Big'));
    expect(bigRecord?.headers[EventHeaders.eventId]).toBe(atLimit.eventId);

    const measured: string[] = [];
    for (const envelope of [...stored]) {
      const record = reader.records.find((seen) => seen.topic === topicOf(envelope.aggregateType));
      if (record === undefined) throw new Error(`no record for ${envelope.aggregateType}`);
      // The value is the payload exactly as PostgreSQL renders jsonb.
      expect(record.value).toBe(renderJsonbText(envelope.payload));
      const exact = eventRecordSize(envelope, {
        commitLsn: record.headers[EventHeaders.commitLsn] ?? '',
        transactionSequence: Number(record.headers[EventHeaders.transactionSequence]),
      });
      expect(exact.valueBytes).toBe(record.valueBytes.length);
      expect(exact.keyBytes).toBe(utf8(record.key));
      let headerBytes = 0;
      for (const [name, value] of Object.entries(record.headers))
        headerBytes += utf8(name) + utf8(value);
      expect(exact.headerBytes).toBe(headerBytes);
      // The broker's own measure: a batch of exactly the computed size fits, one byte less does not.
      const fits = env.topic(`fits.${envelope.aggregateType}`);
      const tight = env.topic(`tight.${envelope.aggregateType}`);
      await createTopic(fits, exact.totalBytes);
      await createTopic(tight, exact.totalBytes - 1);
      expect(await brokerAccepts(record, fits)).toBe(true);
      expect(await brokerAccepts(record, tight)).toBe(false);
      measured.push(
        `${envelope.aggregateType}: computed ${exact.totalBytes} B, JSON.stringify payload ${utf8(JSON.stringify(envelope.payload))} B, jsonb ${exact.valueBytes} B`,
      );
    }
    console.info(`record sizes agree with the broker:\n  ${measured.join('\n  ')}`);
  }, 180_000);
});
