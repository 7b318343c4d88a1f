import type { DomainEvent, KafkaProducer } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { counterRecord, useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveProjectionRuntimeConfig, type PoisonPolicy } from '../config.js';
import { FaultInjector, SimulatedCrash } from '../fault-injection.js';
import { typedRows } from '../internal/sql.js';
import { defineProjection } from '../projection.js';
import type { SourceRecord } from '../source-record.js';
import { PostgresProjectionStore } from '../store/postgres/postgres-projection-store.js';
import { kafkaDeadLetterPublisher } from './dead-letter.js';
import { createProjectionRuntime } from './kafka-runtime.js';
import { ProjectionApplier } from './projection-applier.js';

/*
 * Poison handling on the real stack: each handler runs in its own savepoint (a handler that
 * swallows its own database error does not poison the next record), an error raised at
 * COMMIT is pinned on the record that caused it, a dead letter is published once even when
 * its batch runs again, and the topics the runtime creates are created by it (infinite
 * retention, the documented partition count), never by broker auto-creation.
 */

const env = await useIntegrationEnv({ label: 'proj_poison' });
const kafka = createKafkajsClient({ clientId: 'proj-poison', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 4 } });

afterAll(async () => {
  await knex.destroy();
});

type Keyed = DomainEvent<'Incremented', { readonly by: number; readonly key?: string }>;

/**
 * A projection with the "insert, ignore duplicates" pattern (`seen`) and a table whose
 * unique constraint is only checked at COMMIT (`ledger`).
 */
const keyedProjection = (name: string, poison: PoisonPolicy) =>
  defineProjection<Keyed, 'seen' | 'ledger' | 'applied'>({
    name,
    version: 1,
    aggregateTypes: ['Counter'],
    tables: ['seen', 'ledger', 'applied'],
    poison,
    migrations: [
      {
        name: '0001',
        async up(trx, migration) {
          await migration.createTable('seen', (table) => table.text('key').primary());
          await migration.createTable('ledger', (table) => table.text('key').notNullable());
          await migration.createTable('applied', (table) => table.text('event_id').primary());
          await trx.raw(
            `alter table ?? add constraint ?? unique (key) deferrable initially deferred`,
            [migration.tables.ledger, `${migration.physical.ledger}_key`],
          );
        },
      },
    ],
    handlers: {
      async Incremented(event, { trx, tables }) {
        const key = event.payload.key;
        if (key === 'poison') throw new Error('poison event');
        if (key?.startsWith('ledger:') === true) await trx(tables.ledger).insert({ key });
        await trx(tables.applied).insert({ event_id: event.eventId });
        if (key?.startsWith('seen:') === true) {
          try {
            await trx(tables.seen).insert({ key });
          } catch (error) {
            // The common pattern: a duplicate is not an error for this read model.
            if ((error as { code?: string }).code !== '23505') throw error;
          }
        }
      },
    },
  });

let nextOffset = 0;
const record = (topic: string, counter: string, version: number, key?: string): SourceRecord => {
  const built = counterRecord(counter, version);
  const value = key === undefined ? built.value : JSON.stringify({ by: 1, key });
  return {
    topic,
    partition: 0,
    offset: nextOffset++,
    key: built.key,
    value,
    headers: built.headers,
  };
};

const fastRetry = { retries: 2, initialDelayMs: 5, maxDelayMs: 10 };

async function prepared(prefix: string, poison: PoisonPolicy) {
  const config = resolveProjectionRuntimeConfig({
    schema: `${prefix}_rt`,
    readModelSchema: `${prefix}_rm`,
    topicPrefix: `${env.topicPrefix}${prefix}`,
    deadLetterTopicPrefix: env.name(`${prefix}.dlq`),
    retry: fastRetry,
  });
  const store = new PostgresProjectionStore(knex, config);
  await store.ensureSchema();
  const projection = keyedProjection('keyed', poison);
  await store.prepare(projection);
  return { config, store, projection };
}

const appliedCount = async (schema: string): Promise<number> =>
  Number(
    (await typedRows<{ count: string }>(knex(`${schema}.applied_v1`).count({ count: '*' })))[0]
      ?.count,
  );

describe('poison handling on PostgreSQL and Kafka', () => {
  it('a handler that swallows its own unique violation does not poison the next record of the batch', async () => {
    const { config, store, projection } = await prepared('poison_swallow', 'stop');
    const topic = `${config.topicPrefix}.Counter`;
    const records = [
      record(topic, 'a', 1, 'seen:x'),
      record(topic, 'b', 1, 'seen:x'),
      record(topic, 'c', 1, 'seen:y'),
    ];
    const applier = new ProjectionApplier({ store, projection, config });
    const outcome = await applier.applyBatch(records);
    expect(outcome).toMatchObject({ applied: 3, nextOffset: (records[2]?.offset ?? 0) + 1 });
    const seen = await typedRows<{ key: string }>(
      knex(`${config.readModelSchema}.seen_v1`).select('key').orderBy('key'),
    );
    expect(seen.map((row) => row.key)).toEqual(['seen:x', 'seen:y']);
    // The record whose handler swallowed the error had its own writes rolled back to its
    // savepoint (as PostgreSQL would for a transaction of its own); the others stand.
    expect(await appliedCount(config.readModelSchema)).toBe(2);
  });

  it('an error raised at COMMIT (a deferred constraint) is pinned on the record that caused it', async () => {
    const stopped = await prepared('poison_commit_stop', 'stop');
    const topic = `${stopped.config.topicPrefix}.Counter`;
    const batch = [
      record(topic, 'a', 1, 'ledger:dup'),
      record(topic, 'b', 1, 'ledger:dup'),
      record(topic, 'c', 1),
    ];
    const culprit = batch[1] as SourceRecord;
    const stopping = new ProjectionApplier({ ...stopped, config: stopped.config });
    const error = await stopping.applyBatch(batch).catch((failure: unknown) => failure);
    expect(error).toMatchObject({
      code: 'PROJECTION_HANDLER_FAILED',
      position: { topic, partition: 0, offset: culprit.offset },
    });

    const parking = await prepared('poison_commit_park', 'park');
    const parkTopic = `${parking.config.topicPrefix}.Counter`;
    const parkBatch = [
      record(parkTopic, 'a', 1, 'ledger:dup'),
      record(parkTopic, 'b', 1, 'ledger:dup'),
      record(parkTopic, 'c', 1),
    ];
    const parkedCulprit = parkBatch[1] as SourceRecord;
    const applier = new ProjectionApplier({ ...parking, config: parking.config });
    const outcome = await applier.applyBatch(parkBatch);
    expect(outcome.nextOffset).toBe(parkedCulprit.offset + 2);
    expect(await appliedCount(parking.config.readModelSchema)).toBe(2);
    const parked = await parking.store.parkedEvents({ projection: 'keyed' });
    expect(parked.map((row) => [row.aggregateId, row.offset])).toEqual([
      ['b', parkedCulprit.offset],
    ]);
  });

  it('publishes a dead letter once, even when its batch runs again after a crash before COMMIT', async () => {
    const { config, store, projection } = await prepared('poison_dlq_once', 'dead-letter');
    const topic = `${config.topicPrefix}.Counter`;
    const deadLetterTopic = `${config.deadLetterTopicPrefix}.keyed`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ topic: deadLetterTopic, partitions: 1, replicationFactor: 1 }]);
    let producer: Promise<KafkaProducer> | undefined;
    const deadLetter = kafkaDeadLetterPublisher(() => {
      producer ??= (async () => {
        const created = kafka.producer();
        await created.connect();
        return created;
      })();
      return producer;
    }, config);
    // The first run dies after its handlers (and the dead letter), before COMMIT.
    const faults = new FaultInjector(
      [{ point: 'after-handlers', signal: 'SIGKILL', atHit: 1 }],
      (plan) => {
        throw new SimulatedCrash(plan.point);
      },
    );
    const batch = [record(topic, 'a', 1), record(topic, 'b', 1, 'poison'), record(topic, 'c', 1)];
    const applier = new ProjectionApplier({ store, projection, config, deadLetter, faults });
    await expect(applier.applyBatch(batch)).rejects.toThrow(/Simulated crash/);
    // Redelivered after the restart: the same batch again (a new applier, as after a restart).
    const restarted = new ProjectionApplier({ store, projection, config, deadLetter });
    const outcome = await restarted.applyBatch(batch);
    expect(outcome).toMatchObject({ applied: 2, deadLettered: 1 });
    const [offsets] = await admin.fetchOffsets(deadLetterTopic);
    await admin.disconnect();
    await (await producer)?.disconnect();
    expect(Number(offsets?.highWatermark)).toBe(1);
  });

  it('creates its dead-letter topic and the event topics it creates with infinite retention and the documented partitions', async () => {
    const prefix = 'poison_topics';
    const config = {
      schema: `${prefix}_rt`,
      readModelSchema: `${prefix}_rm`,
      topicPrefix: `${env.topicPrefix}${prefix}`,
      groupIdPrefix: env.name(prefix),
      deadLetterTopicPrefix: env.name(`${prefix}.dlq`),
      missingTopics: 'create' as const,
      topicPartitions: 2,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
    };
    const runtime = createProjectionRuntime({
      kafka,
      knex,
      projections: [keyedProjection('keyed', 'dead-letter')],
      config,
    });
    await runtime.start();
    await runtime.stop();
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const topic of [
        `${config.topicPrefix}.Counter`,
        `${config.deadLetterTopicPrefix}.keyed`,
      ]) {
        const described = await admin.describeTopic(topic);
        // The stack's broker has auto.create.topics.enable=true with 7-day retention: only
        // topics created by Tributary carry these settings.
        expect({
          topic,
          partitions: described.partitions,
          retention: described.configs['retention.ms'],
        }).toEqual({
          topic,
          partitions: 2,
          retention: '-1',
        });
      }
    } finally {
      await admin.disconnect();
    }
  });

  it('sends one statement per handled event when the batch commits, savepoints only when it fails', async () => {
    const { config, store, projection } = await prepared('poison_trips', 'stop');
    const topic = `${config.topicPrefix}.Counter`;
    const applier = new ProjectionApplier({ store, projection, config });
    // The first batch of a partition also creates its checkpoint row; count the second.
    await applier.applyBatch([record(topic, 'w', 1)]);
    const statements: string[] = [];
    const onQuery = (query: { sql: string }): void => {
      statements.push(query.sql);
    };
    knex.on('query', onQuery);
    try {
      const batch = Array.from({ length: 20 }, (_, index) =>
        record(topic, `t${index % 5}`, Math.floor(index / 5) + 1),
      );
      await applier.applyBatch(batch);
      const handled = statements.filter((sql) => sql.includes('applied_v1')).length;
      const savepoints = statements.filter((sql) => /savepoint/i.test(sql)).length;
      expect({ handled, savepoints, bookkeeping: statements.length - handled }).toEqual({
        handled: 20,
        savepoints: 0,
        // BEGIN, checkpoint lock (with the lock and idle timeouts), aggregates lock,
        // aggregates + checkpoint write, COMMIT.
        bookkeeping: 5,
      });
      // The timeouts are set by the first statement after BEGIN, before any lock is taken.
      expect(statements[1]).toMatch(/for update/);
      expect(statements[1]).toMatch(/set_config\('lock_timeout'/);
      expect(statements.filter((sql) => sql.includes('set_config')).length).toBe(1);
      // A swallowed error: the fast run fails at the next statement, the isolated run
      // takes a savepoint per handler call and rolls back only the swallowing one.
      statements.length = 0;
      await applier.applyBatch([
        record(topic, 'u', 1, 'seen:dup'),
        record(topic, 'v', 1, 'seen:dup'),
        record(topic, 'x', 1),
      ]);
      expect(statements.filter((sql) => /^savepoint/i.test(sql)).length).toBe(3);
    } finally {
      knex.off('query', onQuery);
    }
  });

  it('a batch waits for a locked checkpoint no longer than lockTimeoutMs', async () => {
    const { config, projection } = await prepared('poison_locked', 'stop');
    const topic = `${config.topicPrefix}.Counter`;
    const store = new PostgresProjectionStore(knex, { ...config, lockTimeoutMs: 200 });
    const applier = new ProjectionApplier({ store, projection, config });
    await applier.applyBatch([record(topic, 'l', 1)]); // creates the checkpoint row
    const holder = await knex.transaction();
    try {
      await holder(`${config.schema}.projection_checkpoints`)
        .where({ projection: projection.name, topic })
        .forUpdate()
        .select('next_offset');
      const started = performance.now();
      // The fast run, the isolated run and two retries each give up after 200 ms.
      await expect(applier.applyBatch([record(topic, 'l', 2)])).rejects.toMatchObject({
        code: '55P03',
      });
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      await holder.rollback();
    }
    expect(await appliedCount(config.readModelSchema)).toBe(1);
  });

  it('measures what the handler savepoints cost (printed, not asserted)', async () => {
    const { config, store, projection } = await prepared('poison_cost', 'stop');
    const topic = `${config.topicPrefix}.Counter`;
    const events = 2_000;
    const records = Array.from({ length: events }, (_, index) =>
      record(topic, `c${index % 50}`, Math.floor(index / 50) + 1),
    );
    const applier = new ProjectionApplier({ store, projection, config });
    const started = performance.now();
    for (let start = 0; start < events; start += 500)
      await applier.applyBatch(records.slice(start, start + 500));
    const applyMs = performance.now() - started;
    // The same number of savepoint + release pairs alone, on one connection in one transaction.
    const pairsStarted = performance.now();
    await knex.transaction(async (trx) => {
      for (let index = 0; index < events; index += 1) {
        await trx.raw('savepoint tributary_handler');
        await trx.raw('release savepoint tributary_handler');
      }
    });
    const pairsMs = performance.now() - pairsStarted;
    expect(await appliedCount(config.readModelSchema)).toBe(events);
    process.stderr.write(
      `[savepoint cost] ${events} events (1 insert each, batches of 500): ` +
        `${(applyMs / events).toFixed(3)} ms/event; savepoint + release alone: ` +
        `${(pairsMs / events).toFixed(3)} ms/event (${((100 * pairsMs) / applyMs).toFixed(0)}% of the apply time)\n`,
    );
  });
});
