/**
 * While the pipeline holds the replication stream back (flow control: a slow encoder here, a
 * slow Kafka or a large transaction in production), nothing is read from the socket, so the
 * walsender's keepalive requests go unanswered. Without status updates on a timer the
 * walsender hung up after wal_sender_timeout, capture restarted, met the same slow event
 * and hung up again: it never got past it (the soak's livelock, with its 5 s timeout).
 */
import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { migrateOutbox } from '../migrations.js';
import { resolveCaptureConfig } from './config.js';
import { readTopics } from './kafka/kafka-reader.test.support.js';
import type { PayloadEncoder } from './pipeline.js';
import { createPostgresKafkaCapturer } from './postgres-kafka-capturer.js';

const env = await useIntegrationEnv({ label: 'held' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const kafka = createKafkajsClient({ brokers: env.kafkaBrokers });
afterAll(async () => {
  await store.close();
});

/** JSON values, but an event of type `Slow` takes three wal_sender_timeouts to encode. */
const slowEncoder: PayloadEncoder = {
  async encode(_topic, envelope) {
    if (envelope.eventType === 'Slow') await new Promise((resolve) => setTimeout(resolve, 3_000));
    return {
      value: Buffer.from(JSON.stringify(envelope.payload)),
      contentType: 'application/json',
    };
  },
};

describe('a replication stream held back by the pipeline', () => {
  it('stays open past wal_sender_timeout: no restart, every event once and in order', async () => {
    const config = resolveCaptureConfig({
      name: env.name('held'),
      databaseUrl: env.databaseUrl,
      kafka: { brokers: env.kafkaBrokers },
      router: { topicPrefix: env.topic('events') },
      topics: { checkpointTopic: env.topic('checkpoints') },
      heartbeatIntervalMs: 0,
      progressIntervalMs: 0,
      restartBackoffMs: 100,
      walSenderTimeoutMs: 1_000,
    });
    const capturer = createPostgresKafkaCapturer({ config, kafka, payloadEncoder: slowEncoder });
    const restarts: string[] = [];
    capturer.instrumentation.on('capture.pipeline.restarting', (event) =>
      restarts.push(event.error),
    );
    const running = capturer.run();
    running.catch(() => undefined);
    const topic = `${config.router.topicPrefix}.Account`;
    try {
      const deadline = Date.now() + 30_000;
      while (capturer.state !== 'streaming') {
        if (Date.now() > deadline) throw new Error(`capturer stuck in ${capturer.state}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const append = (type: string) =>
        store.appendToStream({ aggregateType: 'Account', aggregateId: 'a-1' }, [
          { type, data: { type } },
        ]);
      await append('Opened');
      // Capture creates the topic when it publishes the first event.
      const reader = await readTopics(env.kafkaBrokers, [topic]);
      await append('Slow');
      await append('Closed');
      await reader.waitFor(
        (records) => records.length >= 3,
        60_000,
        () => `restarts: ${restarts.join(' | ')}`,
      );
      // Anything published twice would arrive after the third record.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(reader.records.map((record) => record.value)).toEqual([
        JSON.stringify({ type: 'Opened' }),
        JSON.stringify({ type: 'Slow' }),
        JSON.stringify({ type: 'Closed' }),
      ]);
      expect(restarts).toEqual([]);
      await reader.stop();
    } finally {
      await capturer.stop();
      await running.catch(() => undefined);
    }
  }, 120_000);
});
