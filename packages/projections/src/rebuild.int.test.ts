import type { DomainEvent } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { applicationsProjection, counterRecord, useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { typedRows } from './internal/sql.js';
import { defineProjection } from './projection.js';
import { rebuildProjection } from './rebuild.js';
import { createProjectionRuntime } from './runtime/kafka-runtime.js';
import { produceCounterEvents } from './test-support/counter-events.js';
import { applicationReport, progress, waitUntil } from './test-support/verify.js';

/*
 * Rebuild without an outage, on the real stack: the live version keeps applying and
 * serving reads while a new version is rebuilt; a rebuild whose partitions end in
 * transaction markers finishes; after the swap the old version retires without stopping
 * the other projections of its process.
 */

const env = await useIntegrationEnv({ label: 'proj_rebuild' });
const kafka = createKafkajsClient({ clientId: 'proj-rebuild', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 8 } });

afterAll(async () => {
  await knex.destroy();
});

type Counted = DomainEvent<'Incremented', { readonly by: number }>;

/** Another projection of the same events, run in the same process as the rebuilt one. */
const tally = defineProjection<Counted, 'tally'>({
  name: 'tally',
  version: 1,
  aggregateTypes: ['Counter'],
  tables: ['tally'],
  migrations: [
    {
      name: '0001',
      async up(_trx, migration) {
        await migration.createTable('tally', (table) => table.text('event_id').primary());
      },
    },
  ],
  handlers: {
    async Incremented(event, { trx, tables }) {
      await trx(tables.tally).insert({ event_id: event.eventId });
    },
  },
});

const countRows = async (table: string): Promise<number> =>
  Number((await typedRows<{ n: string }>(knex(table).count({ n: '*' })))[0]?.n);

/** A transaction that is aborted: its records and its marker end the partition. */
async function abortedTransactionOnEveryPartition(topic: string, partitions: number) {
  const producer = kafka.producer({ transactionalId: env.name('rebuild-aborter') });
  await producer.connect();
  const transaction = await producer.begin();
  await transaction.send([
    {
      topic,
      messages: Array.from({ length: partitions }, (_, partition) => ({
        ...counterRecord('aborted', 1),
        partition,
      })),
    },
  ]);
  await transaction.abort();
  await producer.disconnect();
}

describe('rebuild without an outage (real Kafka and PostgreSQL)', () => {
  it('finishes when the partitions end in transaction markers, keeps the live version serving, and retires it without stopping the other projections of its process', async () => {
    const prefix = 'rebuild_live';
    const topic = `${env.topicPrefix}${prefix}.Counter`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ topic, partitions: 2, replicationFactor: 1 }]);
    await admin.disconnect();
    const config = {
      topicPrefix: `${env.topicPrefix}${prefix}`,
      groupIdPrefix: env.name(prefix),
      schema: `${prefix}_rt`,
      readModelSchema: `${prefix}_rm`,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
    };
    const transactionalId = env.name(`${prefix}-producer`);
    let produced = await produceCounterEvents(kafka, topic, {
      counters: 20,
      versions: 20,
      transactionalId,
    });
    const live = createProjectionRuntime({
      kafka,
      knex,
      projections: [applicationsProjection(1), tally],
      config,
    });
    await live.start();
    let liveFailure: unknown;
    live.stopped.catch((error: unknown) => {
      liveFailure = error;
    });
    await waitUntil(
      async () =>
        (await countRows(`${prefix}_rm.applications`)) === produced &&
        (await countRows(`${prefix}_rm.tally`)) === produced,
      60_000,
      'the live versions to catch up',
    );

    // Version 2 catches up once and is left building; then each partition ends in an
    // aborted transaction: only hidden entries after the last record.
    const first = await rebuildProjection({
      kafka,
      knex,
      projection: applicationsProjection(2),
      config,
      swap: false,
      timeoutMs: 60_000,
    });
    expect(first.retiredVersion).toBeUndefined();
    await abortedTransactionOnEveryPartition(topic, 2);
    // Resumed from its checkpoints, version 2 fetches nothing but the aborted entries; the
    // rebuild must still see it caught up.
    const resumed = await rebuildProjection({
      kafka,
      knex,
      projection: applicationsProjection(2),
      config,
      swap: false,
      timeoutMs: 30_000,
    });
    const endsInMarkers = (await progress(knex, kafka, `${prefix}_rt`, topic)).end;
    expect(resumed.applied).toBe(endsInMarkers);
    // The live runtime moves past the hidden entries too: lag 0.
    await waitUntil(
      async () => {
        const { end } = await progress(knex, kafka, `${prefix}_rt`, topic);
        const sum = async (name: string): Promise<number> =>
          (await live.store.checkpoints(name, 1)).reduce((total, row) => total + row.nextOffset, 0);
        return (await sum('applications')) === end && (await sum('tally')) === end;
      },
      30_000,
      'every checkpoint at the end offsets, past the aborted transactions',
    );

    // While the rebuild runs, the live version keeps applying and serving reads.
    let nextVersion = 21;
    let rebuilding = true;
    // Writers never pause: version 1 keeps moving while version 2 is rebuilt and verified.
    const producing = (async () => {
      let count = 0;
      while (rebuilding) {
        count += await produceCounterEvents(kafka, topic, {
          counters: 20,
          versions: 1,
          fromVersion: nextVersion,
          transactionalId,
        });
        nextVersion += 1;
      }
      return count;
    })();
    const servedBefore = await countRows(`${prefix}_rm.applications`);
    let servedDuringRebuild = servedBefore;
    const sampling = (async () => {
      while (rebuilding) {
        const [v1] = await live.store.versions('applications');
        const served = await countRows(`${prefix}_rm.applications`);
        if (v1?.status === 'active') servedDuringRebuild = Math.max(servedDuringRebuild, served);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    const rebuilt = await rebuildProjection({
      kafka,
      knex,
      projection: applicationsProjection(2),
      config,
      // Compared at the same offsets while version 1 keeps applying (`seq` is a serial).
      verify: true,
      ignoreColumns: ['seq'],
      timeoutMs: 90_000,
    }).finally(() => {
      rebuilding = false;
    });
    await sampling;
    produced += await producing;
    // Version 1 applied new events and readers saw them while version 2 was rebuilt.
    expect(servedDuringRebuild).toBeGreaterThan(servedBefore);
    expect(rebuilt.retiredVersion).toBe(1);
    expect(rebuilt.differences).toEqual({ applications: 0, totals: 0 });

    // After the swap: readers see version 2; the retired version's consumer stopped, the
    // other projection of the same process keeps applying.
    const more = await produceCounterEvents(kafka, topic, {
      counters: 20,
      versions: 5,
      fromVersion: nextVersion,
      transactionalId,
    });
    produced += more;
    await waitUntil(
      async () => (await countRows(`${prefix}_rm.tally`)) === produced,
      60_000,
      'the other projection to keep applying after the swap',
    );
    expect(liveFailure).toBeUndefined();
    const versions = await live.store.versions('applications');
    expect(versions.map((row) => [row.version, row.status])).toEqual([
      [1, 'retired'],
      [2, 'active'],
    ]);
    await live.stop();
    await expect(live.stopped).resolves.toBeUndefined();
    const report = await applicationReport(knex, `${prefix}_rm`).catch(() => undefined);
    expect(report).toBeUndefined(); // version 1's tables were dropped by the swap
    // Version 2's service resumes from the rebuild's checkpoints: every event once.
    const service = createProjectionRuntime({
      kafka,
      knex,
      projections: [applicationsProjection(2)],
      config,
    });
    await service.start();
    await waitUntil(
      async () => (await countRows(`${prefix}_rm.applications`)) === produced,
      60_000,
      'version 2 to serve every event',
    );
    await service.stop();
    const applied = await typedRows<{ n: string }>(
      knex(`${prefix}_rm.applications`).where('applied', '>', 1).count({ n: '*' }),
    );
    expect(Number(applied[0]?.n)).toBe(0);
  }, 240_000);
});
