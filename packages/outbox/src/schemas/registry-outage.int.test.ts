/**
 * Issue #7, "done when": the registry goes down while the capturer encodes payloads in the
 * registry wire format and writers keep appending. Capture must pause and retry; after the
 * registry is back every event is in Kafka exactly once, in per-aggregate version order,
 * each value in wire format with a schema id the registry resolves — nothing published
 * without its schema, nothing overtaking the transaction that was stuck.
 */
import {
  avroSchema,
  createRecordValueDecoder,
  defineEventSchemas,
  EventHeaders,
  envelopeFromHeaders,
  jsonSchema,
  REGISTRY_CONTENT_TYPE,
  RegistryUnavailableError,
  WIRE_FORMAT_MAGIC_BYTE,
  type NewEvent,
  type SchemaRegistry,
  type StreamAppend,
} from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresKafkaCapturer } from '../capture/postgres-kafka-capturer.js';
import { resolveCaptureConfig } from '../capture/config.js';
import { readTopics, type SeenRecord } from '../capture/kafka/kafka-reader.test.support.js';
import { parseLsn } from '../capture/lsn.js';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { migrateOutbox } from '../migrations.js';
import { createDefaultSchemaCodecs } from './codecs.js';
import { ConfluentSchemaRegistryClient } from './confluent-schema-registry-client.js';
import { createRegistryEncoder } from './encoder.js';

const env = await useIntegrationEnv({ label: 'registry outage' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
afterAll(async () => {
  await store.close();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The real registry client behind a switch: while "down", every call fails the way the
 * client reports an unreachable registry, and the failed calls are counted.
 */
class SwitchableRegistry implements SchemaRegistry {
  available = true;
  failedCalls = 0;

  constructor(private readonly real: SchemaRegistry) {}

  private gate(): void {
    if (this.available) return;
    this.failedCalls += 1;
    throw new RegistryUnavailableError('schema registry switched off by the test');
  }

  register: SchemaRegistry['register'] = async (...args) => {
    this.gate();
    return this.real.register(...args);
  };
  lookup: SchemaRegistry['lookup'] = async (...args) => {
    this.gate();
    return this.real.lookup(...args);
  };
  latest: SchemaRegistry['latest'] = async (...args) => {
    this.gate();
    return this.real.latest(...args);
  };
  versions: SchemaRegistry['versions'] = async (...args) => {
    this.gate();
    return this.real.versions(...args);
  };
  getVersion: SchemaRegistry['getVersion'] = async (...args) => {
    this.gate();
    return this.real.getVersion(...args);
  };
  getById: SchemaRegistry['getById'] = async (...args) => {
    this.gate();
    return this.real.getById(...args);
  };
  subjects: SchemaRegistry['subjects'] = async () => {
    this.gate();
    return this.real.subjects();
  };
  checkCompatibility: SchemaRegistry['checkCompatibility'] = async (...args) => {
    this.gate();
    return this.real.checkCompatibility(...args);
  };
  getCompatibility: SchemaRegistry['getCompatibility'] = async (...args) => {
    this.gate();
    return this.real.getCompatibility(...args);
  };
  setCompatibility: SchemaRegistry['setCompatibility'] = async (...args) => {
    this.gate();
    return this.real.setCompatibility(...args);
  };
  deleteSubject: SchemaRegistry['deleteSubject'] = async (...args) => {
    this.gate();
    return this.real.deleteSubject(...args);
  };
}

const catalog = defineEventSchemas([
  jsonSchema({
    aggregateType: 'Account',
    eventType: 'AccountOpened',
    schema: {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { owner: { type: 'string' } },
      required: ['owner'],
      additionalProperties: false,
    },
  }),
  jsonSchema({
    aggregateType: 'Account',
    eventType: 'MoneyDeposited',
    schema: {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { amount: { type: 'integer', minimum: 1 } },
      required: ['amount'],
      additionalProperties: false,
    },
  }),
  // First written DURING the outage, so its schema id cannot be in the encoder's cache.
  avroSchema({
    aggregateType: 'Account',
    eventType: 'MoneyWithdrawn',
    schema: {
      type: 'record',
      name: 'MoneyWithdrawn',
      namespace: 'bank',
      fields: [
        { name: 'amount', type: 'long' },
        { name: 'reason', type: 'string' },
      ],
    },
  }),
]);

type Phase = 'before' | 'outage' | 'after' | 'done';

describe('capture with registry encoding during a registry outage', () => {
  it('pauses and retries; afterwards every event is in Kafka once, in order, with a resolvable schema id', async () => {
    const realRegistry = new ConfluentSchemaRegistryClient({ url: env.schemaRegistryUrl });
    const registry = new SwitchableRegistry(realRegistry);
    const encoder = createRegistryEncoder({ registry, catalog, registration: 'auto' });
    const config = resolveCaptureConfig({
      name: env.name('outage'),
      databaseUrl: env.databaseUrl,
      kafka: { brokers: env.kafkaBrokers },
      router: { topicPrefix: env.topic('events'), onUnroutable: 'warn' },
      topics: { checkpointTopic: env.topic('checkpoints') },
      heartbeatIntervalMs: 0,
      progressIntervalMs: 0,
      restartBackoffMs: 50,
      standbyRetryMs: 200,
    });
    const capturer = createPostgresKafkaCapturer({
      config,
      kafka: createKafkajsClient({ brokers: env.kafkaBrokers }),
      payloadEncoder: encoder,
    });
    const restarts: (string | null)[] = [];
    capturer.instrumentation.on('capture.pipeline.restarting', ({ code }) => {
      restarts.push(code);
    });
    const running = capturer.run();
    // Rows committed before the slot exists are never streamed: write only once it streams.
    const deadline = Date.now() + 30_000;
    while (capturer.state !== 'streaming') {
      if (Date.now() > deadline) throw new Error(`capturer stuck in ${capturer.state}`);
      await Promise.race([running, sleep(20)]);
    }

    // Writers: 4 concurrent, each with its own accounts; transactions of 1–2 aggregates.
    let phase: Phase = 'before';
    const written = new Map<string, unknown>(); // `${aggregateId}/${version}` → payload
    const writtenDuringOutage = { count: 0 };
    const writers = Array.from({ length: 4 }, async (_, writer) => {
      const versions = new Map<string, number>();
      for (let n = 0; phase !== 'done'; n += 1) {
        const appends: StreamAppend[] = [];
        const pending: [string, unknown][] = [];
        for (const part of n % 3 === 0 ? [0, 1] : [0]) {
          const aggregateId = `w${writer}-a${(n + part) % 6}`;
          const version = versions.get(aggregateId) ?? 0;
          const events: NewEvent[] = [];
          const count = 1 + ((n + part) % 2);
          for (let i = 0; i < count; i += 1) {
            const next = version + i + 1;
            const event: NewEvent =
              next === 1
                ? { type: 'AccountOpened', data: { owner: `owner ${aggregateId}` } }
                : phase !== 'before' && next % 3 === 0
                  ? { type: 'MoneyWithdrawn', data: { amount: next, reason: `r${n}` } }
                  : { type: 'MoneyDeposited', data: { amount: next * 10 } };
            events.push(event);
            pending.push([`${aggregateId}/${next}`, event.data]);
          }
          versions.set(aggregateId, version + count);
          appends.push({
            stream: { aggregateType: 'Account', aggregateId },
            events,
            expectedVersion: version === 0 ? 'no-stream' : version,
          });
        }
        const during = phase === 'outage';
        await store.appendMany(appends);
        for (const [key, payload] of pending) written.set(key, payload);
        if (during) writtenDuringOutage.count += pending.length;
        await sleep(5);
      }
    });

    const topic = env.topic('events.Account');
    const reader = await readTopics(env.kafkaBrokers, [topic]);
    try {
      await reader.waitFor((records) => records.length >= 40, 60_000);

      // Outage: every registry call fails; writers keep appending, now also MoneyWithdrawn.
      registry.available = false;
      phase = 'outage';
      const outageStart = Date.now();
      while (
        Date.now() - outageStart < 3_000 ||
        restarts.filter((code) => code === 'REGISTRY_UNAVAILABLE').length < 2
      ) {
        if (Date.now() - outageStart > 60_000) throw new Error('capture never retried');
        await sleep(100);
      }
      const duringOutage: SeenRecord[] = [...reader.records];
      registry.available = true;
      phase = 'after';
      await sleep(1_000);
      phase = 'done';
      await Promise.all(writers);

      await reader.waitFor(
        (records) => records.length >= written.size,
        120_000,
        () =>
          `capturer ${capturer.state}: ${reader.records.length} of ${written.size} events in Kafka`,
      );
      await sleep(500); // anything published twice would show up by now

      // Capture paused: it retried on REGISTRY_UNAVAILABLE and published nothing stuck.
      expect(writtenDuringOutage.count).toBeGreaterThan(0);
      expect(registry.failedCalls).toBeGreaterThanOrEqual(2);
      expect(restarts.filter((code) => code === 'REGISTRY_UNAVAILABLE').length).toBeGreaterThan(1);

      const seen = reader.records;
      // Exactly once: one record per written (aggregate, version), nothing else.
      const keys = seen.map(
        (record) => `${record.key}/${record.headers[EventHeaders.aggregateVersion]}`,
      );
      expect(new Set(keys).size).toBe(keys.length);
      expect(new Set(keys)).toEqual(new Set(written.keys()));

      // Per-aggregate version order in the log: 1, 2, 3, … by offset.
      const byAggregate = new Map<string, SeenRecord[]>();
      for (const record of seen) {
        byAggregate.set(record.key, [...(byAggregate.get(record.key) ?? []), record]);
      }
      for (const records of byAggregate.values()) {
        const versions = records
          .sort((a, b) => (a.offset < b.offset ? -1 : 1))
          .map((record) => Number(record.headers[EventHeaders.aggregateVersion]));
        expect(versions).toEqual(versions.map((_, index) => index + 1));
      }

      // Every value in wire format, with a schema id the (real) registry resolves, decoding
      // to exactly the payload that was written.
      const decoder = createRecordValueDecoder({
        registry: realRegistry,
        codecs: createDefaultSchemaCodecs(),
      });
      const schemaIds = new Set<number>();
      for (const record of seen) {
        expect(record.valueBytes[0]).toBe(WIRE_FORMAT_MAGIC_BYTE);
        expect(record.headers[EventHeaders.contentType]).toBe(REGISTRY_CONTENT_TYPE);
        const decoded = await decoder.decode(record.valueBytes);
        expect(decoded.encoding).toBe('registry');
        if (decoded.encoding === 'registry') schemaIds.add(decoded.schemaId);
        expect(decoded.payload).toEqual(
          written.get(`${record.key}/${record.headers[EventHeaders.aggregateVersion]}`),
        );
      }
      expect(schemaIds.size).toBe(3);
      for (const id of schemaIds) await expect(realRegistry.getById(id)).resolves.toBeDefined();

      // Nothing overtook the stuck transaction: while the registry was down, no MoneyWithdrawn
      // (schema unknown to the encoder) was published, nor anything committed after the first
      // one in PostgreSQL — even events whose schema id was cached.
      const withdrawn = seen.filter(
        (record) => envelopeFromHeaders(record.headers).eventType === 'MoneyWithdrawn',
      );
      expect(withdrawn.length).toBeGreaterThan(0);
      const firstStuck = withdrawn
        .map((record) => parseLsn(record.headers[EventHeaders.commitLsn] ?? '0/0'))
        .reduce((a, b) => (a < b ? a : b));
      expect(duringOutage.length).toBeLessThan(seen.length);
      for (const record of duringOutage) {
        expect(parseLsn(record.headers[EventHeaders.commitLsn] ?? '0/0')).toBeLessThan(firstStuck);
      }
    } finally {
      phase = 'done';
      await Promise.allSettled(writers);
      await reader.stop();
      await capturer.stop();
      await running.catch(() => undefined);
    }
  }, 180_000);
});
