/**
 * `tributary verify` on the real stack: a clean pipeline verifies, then each kind of drift
 * is injected (an outbox event never published, a record published twice, a read model
 * behind the outbox) and reported, with exit code 1 and in `--json`.
 */
import { envelopeHeaders, topicFor, type DomainEvent, type EventEnvelope } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { migrateOutbox, PostgresEventStore } from '@tributary/outbox';
import { createProjectionRuntime, defineProjection } from '@tributary/projections';
import { useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import type { VerifyReport } from './verify/compare.js';
import { verifyCommand } from './verify/command.js';

const env = await useIntegrationEnv({ label: 'cli_verify' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const kafka = createKafkajsClient({ clientId: 'verify-test', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 2 } });
const topicPrefix = env.topic('events');
const topic = topicFor({ topicPrefix }, 'Ledger');
const cliEnv = {
  DATABASE_URL: env.databaseUrl,
  KAFKA_BROKERS: env.kafkaBrokers.join(','),
  TRIBUTARY_TOPIC_PREFIX: topicPrefix,
};
afterAll(async () => {
  await store.close();
  await knex.destroy();
});

type LedgerEvent = DomainEvent<'Booked', { readonly amount: number }>;
const ledgers = defineProjection<LedgerEvent, 'totals'>({
  name: 'verified_ledgers',
  version: 1,
  aggregateTypes: ['Ledger'],
  tables: ['totals'],
  migrations: [
    {
      name: '0001_totals',
      async up(_trx, migration) {
        await migration.createTable('totals', (table) => {
          table.text('ledger_id').primary();
          table.integer('total').notNullable();
        });
      },
    },
  ],
  handlers: {
    async Booked(event, { trx, tables }) {
      await trx.raw(
        'insert into ?? as t (ledger_id, total) values (?, ?) on conflict (ledger_id) do update set total = t.total + excluded.total',
        [tables.totals, event.aggregateId, event.payload.amount],
      );
    },
  },
});

async function append(aggregateId: string, amounts: readonly number[]): Promise<EventEnvelope[]> {
  const result = await store.appendToStream(
    { aggregateType: 'Ledger', aggregateId },
    amounts.map((amount) => ({ type: 'Booked', data: { amount } })),
  );
  return [...result.events];
}

async function publish(events: readonly EventEnvelope[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send([
    {
      topic,
      messages: events.map((event) => ({
        key: event.aggregateId,
        value: JSON.stringify(event.payload),
        headers: envelopeHeaders(event),
      })),
    },
  ]);
  await producer.disconnect();
}

async function verify(...args: string[]): Promise<{ code: number; report: VerifyReport }> {
  const lines: string[] = [];
  const code = await verifyCommand(
    ['--json', ...args],
    { out: (line) => lines.push(line), err: (line) => lines.push(line) },
    cliEnv,
  );
  return { code, report: JSON.parse(lines.join('\n')) as VerifyReport };
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 40_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('tributary verify', () => {
  it('passes on a clean pipeline and reports a missing record, a duplicate and a read model behind', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ topic, partitions: 2, replicationFactor: 1 }]);
    await admin.disconnect();
    const a = await append('a', [1, 2]);
    const b = await append('b', [3]);
    await publish([...a, ...b]);
    const runtime = createProjectionRuntime({
      kafka,
      knex,
      projections: [ledgers],
      config: {
        topicPrefix,
        groupIdPrefix: env.name('verify'),
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 500,
      },
    });
    await runtime.start();
    await until('the read model', async () => {
      const rows = await knex('public.totals_v1').select('ledger_id');
      return rows.length === 2;
    });
    await runtime.stop();

    const clean = await verify();
    expect(clean.report.differences).toEqual([]);
    expect(clean.report).toMatchObject({
      ok: true,
      outboxEvents: 3,
      kafkaRecords: 3,
      projections: [{ projection: 'verified_ledgers', version: 1, aggregates: 2 }],
    });
    expect(clean.code).toBe(0);

    // Drift 1: an event committed to the outbox that never reached Kafka (nor the read model).
    const [lost] = await append('b', [4]);
    // Drift 2: a record published twice.
    await publish([a[0] as EventEnvelope]);
    // Drift 3: the read model lost its last event of ledger a.
    await knex('tributary.projection_aggregates')
      .where({ projection: 'verified_ledgers', aggregate_id: 'a' })
      .update({ last_version: 1 });

    const drifted = await verify();
    expect(drifted.code).toBe(1);
    expect(drifted.report.ok).toBe(false);
    const byKind = drifted.report.differences.map((difference) =>
      difference.kind === 'unexpected'
        ? difference
        : {
            kind: difference.kind,
            aggregateId: difference.aggregateId,
            ...('eventId' in difference ? { eventId: difference.eventId } : {}),
            ...('copies' in difference ? { copies: difference.copies } : {}),
            ...('expected' in difference
              ? { expected: difference.expected, actual: difference.actual }
              : {}),
          },
    );
    expect(byKind).toEqual([
      { kind: 'duplicate', aggregateId: 'a', eventId: a[0]?.eventId, copies: 2 },
      { kind: 'missing', aggregateId: 'b', eventId: lost?.eventId },
      { kind: 'projection-behind', aggregateId: 'a', expected: 2, actual: 1 },
      { kind: 'projection-behind', aggregateId: 'b', expected: 2, actual: 1 },
    ]);

    // A window leaves the drift out: before the first event, or another aggregate type.
    const before = await verify('--to', '2000-01-01T00:00:00Z');
    expect(before.report).toMatchObject({ ok: true, outboxEvents: 0 });
    const other = await verify('--aggregate-type', 'Other');
    expect(other.code).toBe(0);

    // The text report names each difference.
    const lines: string[] = [];
    const code = await verifyCommand(
      [],
      { out: (l) => lines.push(l), err: (l) => lines.push(l) },
      cliEnv,
    );
    expect(code).toBe(1);
    expect(lines.join('\n')).toContain(
      `missing    Ledger/b v2 event ${lost?.eventId}: not in Kafka`,
    );
    expect(lines.join('\n')).toContain('DRIFT: 4 differences');
  }, 120_000);
});
