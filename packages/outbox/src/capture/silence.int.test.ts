/**
 * A half-open replication connection (the network drops every packet, nobody sends a
 * reset) never errors: without a watchdog capture waited on it for good. With it, a stream
 * silent for replicationSilenceTimeoutMs is ended and capture restarts from its checkpoint.
 */
import { createKafkajsClient } from '@tributary/kafkajs';
import { createTcpFaultProxy, useIntegrationEnv } from '@tributary/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { migrateOutbox } from '../migrations.js';
import { resolveCaptureConfig } from './config.js';
import { readTopics } from './kafka/kafka-reader.test.support.js';
import { createPostgresKafkaCapturer } from './postgres-kafka-capturer.js';

const env = await useIntegrationEnv({ label: 'silence' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const kafka = createKafkajsClient({ brokers: env.kafkaBrokers });
const server = new URL(env.databaseUrl);
const proxy = await createTcpFaultProxy({
  target: { host: server.hostname, port: Number(server.port) },
});
afterAll(async () => {
  await proxy.close();
  await store.close();
});

describe('a replication stream that goes silent', () => {
  it('is ended after replicationSilenceTimeoutMs and capture resumes from its checkpoint, exactly once', async () => {
    const viaProxy = new URL(env.databaseUrl);
    viaProxy.port = String(proxy.port);
    const config = resolveCaptureConfig({
      name: env.name('silent'),
      databaseUrl: viaProxy.toString(),
      kafka: { brokers: env.kafkaBrokers },
      router: { topicPrefix: env.topic('events') },
      topics: { checkpointTopic: env.topic('checkpoints') },
      heartbeatIntervalMs: 0,
      progressIntervalMs: 0,
      restartBackoffMs: 100,
      standbyRetryMs: 200,
      // The server drops its side of the dead connection soon, freeing the slot.
      walSenderTimeoutMs: 3_000,
      replicationSilenceTimeoutMs: 4_000,
    });
    const capturer = createPostgresKafkaCapturer({ config, kafka });
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
      await store.appendToStream({ aggregateType: 'Account', aggregateId: 'before' }, [
        { type: 'AccountOpened', data: {} },
      ]);
      const reader = await readTopics(env.kafkaBrokers, [topic]);
      await reader.waitFor((records) => records.some((r) => r.key === 'before'), 30_000);

      proxy.blackHole();
      const silentBy = Date.now() + 30_000;
      while (!restarts.some((error) => error.includes('silent'))) {
        if (Date.now() > silentBy)
          throw new Error(`no restart on silence; restarts: ${restarts.join(' | ')}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      proxy.restore();
      await store.appendToStream({ aggregateType: 'Account', aggregateId: 'after' }, [
        { type: 'AccountOpened', data: {} },
      ]);
      await reader.waitFor(
        (records) => records.some((r) => r.key === 'after'),
        90_000,
        () => `restarts: ${restarts.join(' | ')}`,
      );
      expect(reader.records.map((r) => r.key)).toEqual(['before', 'after']);
      await reader.stop();
    } finally {
      await capturer.stop();
      await running.catch(() => undefined);
    }
  }, 180_000);
});
