/**
 * The capture part of `npm run bench:schemas`: the WAL capturer draining one backlog with
 * registry encoding off (payload JSON as stored), on with JSON Schema, and on with Avro —
 * measured in the same run, on the same servers, from the same backlog (one replication
 * slot per run, all created before the backlog is written). Ids are resolved against the
 * real registry of the stack once and then cached, which is the capturer's steady state.
 *
 * Uses DATABASE_URL, KAFKA_BROKERS and SCHEMA_REGISTRY_URL when all set, else the local stack
 * (started if needed). Not part of the package API.
 */
import { randomBytes } from 'node:crypto';
import { prefillBacklog, dropBenchDatabase, withDatabase } from '../support/bench-database.js';
import { avroSchema, defineEventSchemas, jsonSchema } from '@tributary/core';
import { upStack } from '@tributary/testing';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { createKafkajsClient } from '@tributary/kafkajs';
import {
  ConfluentSchemaRegistryClient,
  createPostgresKafkaCapturer,
  createRegistryEncoder,
  migrateOutbox,
  resolveCaptureConfig,
  type PayloadEncoder,
} from '@tributary/outbox';

const TYPES = ['Account', 'Transfer', 'Order', 'Invoice', 'Shipment'] as const;

/** One drain's figures. */
export interface CaptureDrain {
  readonly label: string;
  readonly eventsPerSecond: number;
  readonly seconds: number;
  readonly kafkaTransactions: number;
}

interface Servers {
  readonly databaseUrl: string;
  readonly brokers: string[];
  readonly registryUrl: string;
}

async function servers(log: (line: string) => void): Promise<Servers> {
  const { DATABASE_URL, KAFKA_BROKERS, SCHEMA_REGISTRY_URL } = process.env;
  if (DATABASE_URL && KAFKA_BROKERS && SCHEMA_REGISTRY_URL) {
    return {
      databaseUrl: DATABASE_URL,
      brokers: KAFKA_BROKERS.split(','),
      registryUrl: SCHEMA_REGISTRY_URL,
    };
  }
  log('  DATABASE_URL/KAFKA_BROKERS/SCHEMA_REGISTRY_URL not set: using the local stack…');
  const { state } = await upStack({ log: () => undefined });
  if (
    state.databaseUrl === undefined ||
    state.kafkaBrokers === undefined ||
    state.schemaRegistryUrl === undefined
  ) {
    throw new Error('the local stack has no database, Kafka or schema registry');
  }
  return {
    databaseUrl: state.databaseUrl,
    brokers: [...state.kafkaBrokers],
    registryUrl: state.schemaRegistryUrl,
  };
}

/** The payload every backlog event carries (the same shape as bench:capture's). */
const lineAddedJson = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: {
    orderId: { type: 'string' },
    lines: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          sku: { type: 'string' },
          quantity: { type: 'integer', minimum: 1 },
          priceCents: { type: 'integer' },
        },
        required: ['sku', 'quantity', 'priceCents'],
        additionalProperties: false,
      },
    },
    note: { type: 'string' },
  },
  required: ['orderId', 'lines'],
  additionalProperties: false,
};
const lineAddedAvro = {
  type: 'record',
  name: 'LineAdded',
  namespace: 'bench',
  fields: [
    { name: 'orderId', type: 'string' },
    {
      name: 'lines',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Line',
          fields: [
            { name: 'sku', type: 'string' },
            { name: 'quantity', type: 'int' },
            { name: 'priceCents', type: 'int' },
          ],
        },
      },
    },
    { name: 'note', type: 'string' },
  ],
};

/**
 * Drains a backlog of `events` events three times (encoding off, JSON Schema, Avro) and
 * returns the rates. Everything it creates (database, slots, topics, subjects) is removed.
 */
export async function benchCaptureEncoding(
  events: number,
  log: (line: string) => void,
): Promise<CaptureDrain[]> {
  const { databaseUrl: serverUrl, brokers, registryUrl } = await servers(log);
  const id = randomBytes(4).toString('hex');
  const database = `bench_schemas_${id}`;
  const prefix = `bench_schemas_${id}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database "${database}"`);
  const databaseUrl = withDatabase(serverUrl, database);
  const kafkaAdmin = new Kafka({
    clientId: 'bench-schemas',
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  const registry = new ConfluentSchemaRegistryClient({ url: registryUrl });
  const subjects = new Set<string>();
  const runs = [
    { label: 'registry encoding off (JSON as stored)', key: 'off' },
    { label: 'registry encoding on: JSON Schema', key: 'json' },
    { label: 'registry encoding on: Avro', key: 'avro' },
  ] as const;
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    await kafkaAdmin.connect();
    await migrateOutbox({ connectionString: databaseUrl });
    const publication = `bench_${id}`;
    await client.query(
      `create publication "${publication}" for table tributary.events with (publish = 'insert')`,
    );
    // Every slot exists before the backlog is written, so each run streams all of it.
    for (const run of runs) {
      await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [
        `tributary_bench_${id}_${run.key}`,
      ]);
    }
    const total = await prefillBacklog(client, events);

    const results: CaptureDrain[] = [];
    for (const run of runs) {
      const topicPrefix = `${prefix}.${run.key}`;
      let encoder: PayloadEncoder | undefined;
      if (run.key !== 'off') {
        const catalog = defineEventSchemas(
          TYPES.map((aggregateType) =>
            run.key === 'json'
              ? jsonSchema({ aggregateType, eventType: 'LineAdded', schema: lineAddedJson })
              : avroSchema({ aggregateType, eventType: 'LineAdded', schema: lineAddedAvro }),
          ),
        );
        for (const aggregateType of TYPES)
          subjects.add(`${topicPrefix}.${aggregateType}-LineAdded`);
        encoder = createRegistryEncoder({ registry, catalog, registration: 'auto' });
      }
      const config = resolveCaptureConfig({
        name: `bench_${id}_${run.key}`,
        databaseUrl,
        kafka: { brokers },
        slot: { publication },
        router: { topicPrefix },
        topics: { checkpointTopic: `${prefix}.checkpoints.${run.key}` },
        heartbeatIntervalMs: 0,
        progressIntervalMs: 0,
      });
      const capturer = createPostgresKafkaCapturer({
        config,
        kafka: createKafkajsClient({ brokers: config.kafka.brokers }),
        ...(encoder === undefined ? {} : { payloadEncoder: encoder }),
      });
      let startedAt = 0;
      let lastCommitAt = 0;
      let published = 0;
      let kafkaTransactions = 0;
      capturer.instrumentation.on('capture.checkpoint.loaded', () => {
        startedAt = Date.now();
      });
      capturer.instrumentation.on('capture.batch.committed', (batch) => {
        published += batch.events;
        kafkaTransactions += 1;
        lastCommitAt = batch.committedAtMs;
      });
      const running = capturer.run();
      const deadline = Date.now() + 600_000;
      while (published < total) {
        if (Date.now() > deadline) throw new Error(`${run.label}: ${published} of ${total}`);
        await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 20))]);
      }
      await capturer.stop();
      await running;
      const seconds = (lastCommitAt - startedAt) / 1000;
      results.push({
        label: run.label,
        eventsPerSecond: Math.round(total / seconds),
        seconds,
        kafkaTransactions,
      });
    }
    return results;
  } finally {
    await client.end().catch(() => undefined);
    await kafkaAdmin
      .listTopics()
      .then((topics) =>
        kafkaAdmin.deleteTopics({ topics: topics.filter((topic) => topic.startsWith(prefix)) }),
      )
      .catch(() => undefined);
    await kafkaAdmin.disconnect().catch(() => undefined);
    for (const subject of subjects) await registry.deleteSubject(subject).catch(() => undefined);
    await dropBenchDatabase(admin, database);
  }
}
