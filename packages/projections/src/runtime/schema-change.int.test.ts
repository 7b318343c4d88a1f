/**
 * Issue #7, "done when": a real schema change followed by a rebuild, on the real stack.
 * One topic holds plain JSON records (captured before the registry was adopted), registry
 * records of schema v1 and registry records of schema v2. A projection whose handler only
 * knows v2 decodes each record by its magic byte and schema id, raises v1 payloads with the
 * same upcaster chain the command side uses to load aggregates, and a rebuild by replay
 * produces exactly the live read model.
 */
import {
  createRecordValueDecoder,
  defineEventSchemas,
  jsonSchema,
  toRegistrySchema,
  topicRecordNameStrategy,
  UpcasterChain,
  type DomainEvent,
  type EventSchemaDeclaration,
} from '@tributary/core';
import {
  ConfluentSchemaRegistryClient,
  createPostgresKafkaCapturer,
  createDefaultSchemaCodecs,
  createRegistryEncoder,
  migrateOutbox,
  PostgresEventStore,
  resolveCaptureConfig,
  type PayloadEncoder,
} from '@tributary/outbox';
import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { typedRows } from '../internal/sql.js';
import { defineProjection } from '../projection.js';
import { rebuildProjection } from '../rebuild.js';
import { waitUntil } from '../test-support/verify.js';
import { createProjectionRuntime } from './kafka-runtime.js';

const env = await useIntegrationEnv({ label: 'proj_schema_change' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 8 } });
const kafka = createKafkajsClient({ clientId: 'proj-schema-it', brokers: env.kafkaBrokers });
afterAll(async () => {
  await store.close();
  await knex.destroy();
});

const topic = env.topic('events.Account');
const registry = new ConfluentSchemaRegistryClient({ url: env.schemaRegistryUrl });
const subject = topicRecordNameStrategy({
  topic,
  eventType: 'MoneyDeposited',
  recordName: 'MoneyDeposited',
});

const depositedV1 = jsonSchema({
  aggregateType: 'Account',
  eventType: 'MoneyDeposited',
  schemaVersion: 1,
  schema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: { amount: { type: 'integer', minimum: 1 } },
    required: ['amount'],
    additionalProperties: false,
  },
});
// v2 adds an optional currency: BACKWARD-compatible in a closed content model.
const depositedV2 = jsonSchema({
  aggregateType: 'Account',
  eventType: 'MoneyDeposited',
  schemaVersion: 2,
  schema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: {
      amount: { type: 'integer', minimum: 1 },
      currency: { type: 'string', enum: ['EUR', 'USD'] },
    },
    required: ['amount'],
    additionalProperties: false,
  },
});
// What a careless v2 would have been: the registry must refuse it under BACKWARD.
const depositedBreaking: EventSchemaDeclaration = jsonSchema({
  aggregateType: 'Account',
  eventType: 'MoneyDeposited',
  schemaVersion: 2,
  schema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: { amount: { type: 'string' }, currency: { type: 'string' } },
    required: ['amount', 'currency'],
    additionalProperties: false,
  },
});

/** The one chain used on both paths: loading aggregates and projecting. */
const upcasters = new UpcasterChain([
  {
    eventType: 'MoneyDeposited',
    fromVersion: 1,
    // Before v2 every account was in euros.
    upcast: (payload) => ({ currency: 'EUR', ...(payload as { amount: number }) }),
  },
]);

type Deposited = DomainEvent<
  'MoneyDeposited',
  { readonly amount: number; readonly currency: 'EUR' | 'USD' }
>;

/** The handler only knows v2 payloads: a v1 payload would have no currency. */
const balances = (version: number) =>
  defineProjection<Deposited, 'balances' | 'deposits'>({
    name: 'balances',
    version,
    aggregateTypes: ['Account'],
    tables: ['balances', 'deposits'],
    migrations: [
      {
        name: '0001_tables',
        async up(_trx, migration) {
          await migration.createTable('balances', (table) => {
            table.text('account_id').notNullable();
            table.text('currency').notNullable();
            table.bigInteger('total').notNullable();
            table.primary(['account_id', 'currency']);
          });
          await migration.createTable('deposits', (table) => {
            table.uuid('event_id').primary();
            table.text('account_id').notNullable();
            table.integer('aggregate_version').notNullable();
            table.integer('schema_version').notNullable();
            table.integer('amount').notNullable();
            table.text('currency').notNullable();
          });
        },
      },
    ],
    handlers: {
      async MoneyDeposited(event, { trx, tables }) {
        if (event.payload.currency === undefined) throw new Error('a v2 handler got a v1 payload');
        await trx(tables.deposits).insert({
          event_id: event.eventId,
          account_id: event.aggregateId,
          aggregate_version: event.aggregateVersion,
          schema_version: event.schemaVersion,
          amount: event.payload.amount,
          currency: event.payload.currency,
        });
        await trx.raw(
          `insert into ?? as b (account_id, currency, total) values (?, ?, ?)
           on conflict (account_id, currency) do update set total = b.total + excluded.total`,
          [tables.balances, event.aggregateId, event.payload.currency, event.payload.amount],
        );
      },
    },
  });

const captureConfig = resolveCaptureConfig({
  name: env.name('capture'),
  databaseUrl: env.databaseUrl,
  kafka: { brokers: env.kafkaBrokers },
  router: { topicPrefix: env.topic('events') },
  topics: { checkpointTopic: env.topic('checkpoints') },
  heartbeatIntervalMs: 0,
  progressIntervalMs: 0,
  restartBackoffMs: 50,
  standbyRetryMs: 200,
});

/**
 * Runs the capturer (same name, so each run resumes from the Kafka checkpoint) while
 * `write` appends, until `events` more events are published.
 */
async function capture(
  events: number,
  write: () => Promise<void>,
  payloadEncoder?: PayloadEncoder,
): Promise<void> {
  const capturer = createPostgresKafkaCapturer({
    config: captureConfig,
    kafka,
    ...(payloadEncoder === undefined ? {} : { payloadEncoder }),
  });
  let published = 0;
  capturer.instrumentation.on('capture.batch.committed', (batch) => {
    published += batch.events;
  });
  const running = capturer.run();
  try {
    // Rows committed before the slot exists are never streamed.
    await waitUntil(() => Promise.resolve(capturer.state === 'streaming'), 30_000, 'capture');
    await write();
    await waitUntil(
      () => Promise.resolve(published >= events),
      30_000,
      `${events} events published`,
    );
  } finally {
    await capturer.stop();
    await running;
  }
}

let versions = new Map<string, number>();
async function deposit(
  accountId: string,
  amounts: readonly number[],
  schemaVersion: 1 | 2,
  currency?: 'EUR' | 'USD',
): Promise<void> {
  const version = versions.get(accountId) ?? 0;
  await store.appendToStream(
    { aggregateType: 'Account', aggregateId: accountId },
    amounts.map((amount) => ({
      type: 'MoneyDeposited',
      schemaVersion,
      data: schemaVersion === 1 ? { amount } : { amount, ...(currency ? { currency } : {}) },
    })),
    { expectedVersion: version === 0 ? 'no-stream' : version },
  );
  versions.set(accountId, version + amounts.length);
}

const runtimeConfig = {
  topicPrefix: `${env.topicPrefix}events`,
  groupIdPrefix: env.name('projection'),
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
};

interface DepositRow {
  event_id: string;
  account_id: string;
  aggregate_version: number;
  schema_version: number;
  amount: number;
  currency: string;
}

const readModel = async (): Promise<{ balances: unknown[]; deposits: DepositRow[] }> => ({
  balances: await typedRows(knex('public.balances').orderBy(['account_id', 'currency']).select()),
  deposits: await typedRows<DepositRow>(knex('public.deposits').orderBy('event_id').select()),
});

describe('a schema change followed by a rebuild', () => {
  it('projects JSON, v1 and v2 registry records from one topic with a v2 handler, and a rebuild reproduces the read model', async () => {
    versions = new Map();
    // 1. Before the registry: plain JSON records (schema version 1).
    await capture(4, async () => {
      await deposit('acc-1', [10, 20], 1);
      await deposit('acc-2', [5, 7], 1);
    });

    // 2. Adopt the registry: register v1 under BACKWARD, capture encodes with it.
    await registry.setCompatibility('BACKWARD', subject);
    const v1 = await registry.register(subject, toRegistrySchema(depositedV1));
    const encoderV1 = createRegistryEncoder({
      registry,
      catalog: defineEventSchemas([depositedV1]),
      registration: 'pre-registered',
    });
    await capture(3, () => deposit('acc-1', [1, 2, 3], 1), encoderV1);

    // 3. Evolve: the registry accepts v2 and refuses the breaking variant.
    expect(
      (await registry.checkCompatibility(subject, toRegistrySchema(depositedV2))).compatible,
    ).toBe(true);
    expect(
      (await registry.checkCompatibility(subject, toRegistrySchema(depositedBreaking))).compatible,
    ).toBe(false);
    const v2 = await registry.register(subject, toRegistrySchema(depositedV2));
    expect(v2.id).not.toBe(v1.id);

    // 4. v2 events (and a late v1 writer still on the old code) through the same encoder.
    const encoder = createRegistryEncoder({
      registry,
      catalog: defineEventSchemas([depositedV1, depositedV2]),
      registration: 'pre-registered',
    });
    await capture(
      5,
      async () => {
        await deposit('acc-2', [100], 2, 'USD');
        await deposit('acc-3', [50, 60], 2, 'EUR');
        await deposit('acc-1', [4], 1);
        await deposit('acc-3', [70], 2, 'EUR');
      },
      encoder,
    );
    const total = 12;

    // The topic now holds all three kinds of record.
    const valueDecoder = createRecordValueDecoder({
      registry,
      codecs: createDefaultSchemaCodecs(),
    });
    const kinds = new Map<string, number>();
    const consumer = kafka.consumer({ groupId: env.name('inspect'), maxWaitTimeMs: 100 });
    await consumer.connect();
    await consumer.subscribe([topic], { fromBeginning: true });
    let seen = 0;
    await consumer.run({
      eachBatch: async (batch) => {
        for (const record of batch.records) {
          const decoded = await valueDecoder.decode(record.value ?? new Uint8Array(0));
          const kind = decoded.encoding === 'json' ? 'json' : `schema ${decoded.schemaId}`;
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
          seen += 1;
          batch.resolveOffset(record.offset);
        }
      },
    });
    await waitUntil(() => Promise.resolve(seen >= total), 30_000, 'inspection');
    await consumer.disconnect();
    expect(Object.fromEntries(kinds)).toEqual({
      json: 4,
      [`schema ${v1.id}`]: 4,
      [`schema ${v2.id}`]: 4,
    });

    // 5. Live projection (v2 handler) over the mixed topic.
    const live = createProjectionRuntime({
      kafka,
      knex,
      projections: [balances(1)],
      config: runtimeConfig,
      upcasters,
      valueDecoder,
    });
    await live.start();
    await waitUntil(
      async () => (await readModel()).deposits.length === total,
      60_000,
      'live projection',
    );
    await live.stop();
    const projected = await readModel();
    expect(projected.balances).toEqual([
      { account_id: 'acc-1', currency: 'EUR', total: '40' },
      { account_id: 'acc-2', currency: 'EUR', total: '12' },
      { account_id: 'acc-2', currency: 'USD', total: '100' },
      { account_id: 'acc-3', currency: 'EUR', total: '180' },
    ]);
    // v1 events reached the handler upcast (schemaVersion 2, currency filled in).
    expect(new Set(projected.deposits.map((row) => row.schema_version))).toEqual(new Set([2]));

    // The same chain on the load path gives the payloads the projection saw.
    for (const accountId of ['acc-1', 'acc-2', 'acc-3']) {
      const { events } = await store.readStream({
        aggregateType: 'Account',
        aggregateId: accountId,
      });
      for (const event of events.map((stored) => upcasters.upcast(stored))) {
        const row = projected.deposits.find((deposit) => deposit.event_id === event.eventId);
        expect(row).toMatchObject({
          aggregate_version: event.aggregateVersion,
          schema_version: event.schemaVersion,
          ...(event.payload as object),
        });
      }
    }

    // 6. Rebuild by replay into version 2, verified against version 1, then swapped.
    const rebuilt = await rebuildProjection({
      kafka,
      knex,
      projection: balances(2),
      config: runtimeConfig,
      upcasters,
      valueDecoder: createRecordValueDecoder({ registry, codecs: createDefaultSchemaCodecs() }),
      verify: true,
      timeoutMs: 60_000,
    });
    expect(rebuilt.differences).toEqual({ balances: 0, deposits: 0 });
    expect(rebuilt.retiredVersion).toBe(1);
    // Readers query the views, which now point at version 2: the same read model.
    expect(await readModel()).toEqual(projected);
  }, 240_000);
});
