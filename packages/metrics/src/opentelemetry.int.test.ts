/**
 * One trace from a command to the read-model write, on the real stack: the command bus,
 * PostgreSQL outbox, WAL capture into Kafka and the projection runtime each trace through
 * the OpenTelemetry adapter into the SDK's in-memory exporter.
 */
import { SpanKind } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { CommandBus, defineAggregate, type DomainEvent } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import {
  createPostgresKafkaCapturer,
  migrateOutbox,
  PostgresEventStore,
  resolveCaptureConfig,
} from '@tributary/outbox';
import { createProjectionRuntime, defineProjection } from '@tributary/projections';
import { useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { createOpenTelemetryTracer } from './opentelemetry.js';

const env = await useIntegrationEnv({ label: 'otel' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const kafka = createKafkajsClient({ clientId: 'otel', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 4 } });
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = createOpenTelemetryTracer({ tracer: provider.getTracer('tributary-test') });
afterAll(async () => {
  await store.close();
  await knex.destroy();
  await provider.shutdown();
});

type TracedEvent = DomainEvent<'Deposited', { readonly amount: number }>;
class Deposit {
  accountId = '';
  amount = 0;
}
const Account = defineAggregate<{ balance: number }, TracedEvent>({
  type: 'TracedAccount',
  initialState: () => ({ balance: 0 }),
  evolve: { Deposited: (state, { amount }) => ({ balance: state.balance + amount }) },
}).handles(Deposit, {
  aggregateId: (command) => command.accountId,
  decide: (command) => ({ type: 'Deposited', data: { amount: command.amount } }),
});

const balances = defineProjection<TracedEvent, 'balances'>({
  name: 'traced_balances',
  version: 1,
  aggregateTypes: ['TracedAccount'],
  tables: ['balances'],
  migrations: [
    {
      name: '0001_balances',
      async up(_trx, migration) {
        await migration.createTable('balances', (table) => {
          table.text('account_id').primary();
          table.integer('balance').notNullable();
        });
      },
    },
  ],
  handlers: {
    async Deposited(event, { trx, tables }) {
      await trx.raw(
        'insert into ?? as b (account_id, balance) values (?, ?) on conflict (account_id) do update set balance = b.balance + excluded.balance',
        [tables.balances, event.aggregateId, event.payload.amount],
      );
    },
  },
});

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 40_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const named = (name: string): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((span) => span.name === name);

describe('OpenTelemetry traces on the real stack', () => {
  it('follows one trace id from the command through append, capture and the projection write', async () => {
    const topicPrefix = env.topic('events');
    const capturer = createPostgresKafkaCapturer({
      config: resolveCaptureConfig({
        name: env.name('otel'),
        databaseUrl: env.databaseUrl,
        kafka: { brokers: env.kafkaBrokers },
        router: { topicPrefix },
        topics: {
          checkpointTopic: env.topic('checkpoints'),
          transactionTopic: env.topic('transactions'),
        },
        heartbeatIntervalMs: 0,
        progressIntervalMs: 0,
      }),
      kafka,
      tracer,
    });
    const runtime = createProjectionRuntime({
      kafka,
      knex,
      projections: [balances],
      tracer,
      config: {
        topicPrefix,
        groupIdPrefix: env.name('projection'),
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 500,
      },
    });
    const bus = new CommandBus({
      eventStore: store,
      aggregates: [Account],
      validate: false,
      tracer,
    });
    const running = capturer.run();
    try {
      // The slot is created when capture starts: an event appended before would not be in it.
      await until('capture streaming', () => capturer.state === 'streaming');
      const result = await bus.execute(
        Object.assign(new Deposit(), { accountId: 'acc-1', amount: 42 }),
      );
      await until('the publish span', () => named('publish').length > 0);
      await runtime.start();
      await until('the read model', async () => {
        const rows = await knex('public.balances_v1').where({ account_id: 'acc-1' });
        return rows.length === 1;
      });
      await until('the apply span', () => named('apply traced_balances').length === 1);

      const [command] = named('command Deposit');
      const [append] = named('append TracedAccount');
      const publish = named('publish');
      const [apply] = named('apply traced_balances');
      if (command === undefined || append === undefined || apply === undefined)
        throw new Error('a span is missing');
      const traceId = command.spanContext().traceId;
      // The append is the command's child, and its context is what the event stored.
      expect(append.spanContext().traceId).toBe(traceId);
      expect(append.parentSpanContext?.spanId).toBe(command.spanContext().spanId);
      const stored = result.events[0]?.metadata.traceparent;
      expect(stored).toBe(`00-${traceId}-${append.spanContext().spanId}-01`);
      // Capture's Kafka transaction links to that stored context.
      const linked = publish.filter((span) =>
        span.links.some((link) => link.context.spanId === append.spanContext().spanId),
      );
      expect(linked).toHaveLength(1);
      expect(linked[0]?.kind).toBe(SpanKind.PRODUCER);
      expect(linked[0]?.links[0]?.context.traceId).toBe(traceId);
      // The projection's apply continues the same trace from the record's header.
      expect(apply.kind).toBe(SpanKind.CONSUMER);
      expect(apply.spanContext().traceId).toBe(traceId);
      expect(apply.parentSpanContext?.spanId).toBe(append.spanContext().spanId);
      expect(apply.attributes['tributary.aggregate_id']).toBe('acc-1');
      const row = await knex('public.balances_v1').where({ account_id: 'acc-1' }).first();
      expect(row).toEqual({ account_id: 'acc-1', balance: 42 });
    } finally {
      await runtime.stop();
      await capturer.stop();
      await running;
    }
  }, 120_000);
});
