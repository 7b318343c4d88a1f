/**
 * Reactors, process managers and deadlines on the real stack: commands executed from Kafka
 * events land in the service's outbox once, with causation and correlation; a new version
 * replaying the topic appends nothing; scheduled commands run once, after they fall due,
 * across restarts and competing pollers, and cancelled ones never run.
 */
import { createKafkajsClient } from '@tributary/kafkajs';
import { migrateOutbox, PostgresEventStore } from '@tributary/outbox';
import { produceCounterEvents, useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { createReactorRuntime, type AnyReactor, type ReactorRuntime } from './index.js';
import { acknowledger, ledgerCloser, Ledger } from './test-support/ledger.js';

const env = await useIntegrationEnv({ label: 'reactor' });
const kafka = createKafkajsClient({ clientId: 'reactor-it', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 8 } });
await migrateOutbox({ knex });
const eventStore = new PostgresEventStore({ connection: knex });
afterAll(async () => {
  await knex.destroy();
});

async function createTopic(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics([{ topic, partitions: 3, replicationFactor: 1 }]);
  await admin.disconnect();
}

function runtimeFor(prefix: string, reactors: AnyReactor[], runDeadlines = false): ReactorRuntime {
  return createReactorRuntime({
    kafka,
    knex,
    reactors,
    eventStore,
    aggregates: [Ledger],
    commandBus: { validate: false },
    runDeadlines,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`),
      error: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`),
    },
    config: {
      topicPrefix: `${env.topicPrefix}${prefix}`,
      groupIdPrefix: env.name(prefix),
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      deadlinePollIntervalMs: 100,
    },
  });
}

const warnings: string[] = [];

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const deadlines = await knex.raw<{ rows: unknown[] }>(
        'select id, status, error from tributary.reactor_deadlines',
      );
      throw new Error(
        `timed out waiting for ${what}; deadlines ${JSON.stringify(deadlines.rows)}; log: ${warnings.slice(-5).join(' | ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const countOf = async (sql: string, bindings: string[] = []): Promise<number> => {
  const result = await knex.raw<{ rows: { n: number }[] }>(sql, bindings);
  return Number(result.rows[0]?.n ?? 0);
};

describe('reactors on the real stack', () => {
  it('executes one command per consumed event, once, with causation and correlation; a new version replays without effect', async () => {
    const prefix = 'ack';
    const topic = `${env.topicPrefix}${prefix}.Counter`;
    await createTopic(topic);
    const total = await produceCounterEvents(kafka, topic, {
      counters: 20,
      versions: 10,
      transactionalId: env.name('ack-producer'),
    });
    const runtime = runtimeFor(prefix, [acknowledger]);
    await runtime.start();
    const acknowledged = () =>
      countOf(`select count(*)::int as n from tributary.events where event_type = 'Acknowledged'`);
    try {
      await waitUntil(async () => (await acknowledged()) >= total, 60_000, 'acknowledgements');
    } finally {
      await runtime.stop();
    }
    const rows = (
      await knex.raw<{
        rows: { payload: { sourceEventId: string }; metadata: Record<string, string> }[];
      }>(`select payload, metadata from tributary.events where event_type = 'Acknowledged'`)
    ).rows;
    expect(rows).toHaveLength(total);
    expect(new Set(rows.map((row) => row.payload.sourceEventId)).size).toBe(total);
    for (const { payload, metadata } of rows) {
      // The consumed event is the command's cause; the command id is derived from it.
      expect(metadata['commandCausationId']).toBe(payload.sourceEventId);
      expect(metadata['causationId']).toBe(`acknowledger:${payload.sourceEventId}:c0`);
      // The counter events carry no correlation id: the consumed event id starts one.
      expect(metadata['correlationId']).toBe(payload.sourceEventId);
      expect(metadata['reactor']).toBe('acknowledger');
    }
    expect(
      await countOf(`select count(*)::int as n from tributary.commands where command_id like ?`, [
        'acknowledger:%',
      ]),
    ).toBe(total);

    // Version 2 reads the topic again from the earliest offset: same derived command ids,
    // so every command is found recorded and nothing is appended.
    const v2 = runtimeFor(prefix, [{ ...acknowledger, version: 2 }]);
    let applied = 0;
    v2.projections.instrumentation.on('projection.batch.committed', (batch) => {
      applied += batch.applied;
    });
    await v2.start();
    try {
      await waitUntil(() => Promise.resolve(applied >= total), 60_000, 'the v2 replay');
    } finally {
      await v2.stop();
    }
    expect(await acknowledged()).toBe(total);
  }, 150_000);

  it('process state per correlation id; a scheduled command runs once after it falls due, across a restart and two pollers; a cancelled one never runs', async () => {
    const prefix = 'pm';
    const topic = `${env.topicPrefix}${prefix}.Counter`;
    await createTopic(topic);
    // 6 counters: c0–c2 get 3 events (the process manager cancels their deadline at the
    // 3rd), c3–c5 get 1 (their ledger is closed by the deadline).
    await produceCounterEvents(kafka, topic, {
      counters: 6,
      versions: 1,
      transactionalId: env.name('pm-producer'),
    });
    await produceCounterEvents(kafka, topic, {
      counters: 3,
      versions: 2,
      fromVersion: 2,
      transactionalId: env.name('pm-producer'),
    });
    const closer = ledgerCloser({ closeAfterMs: 3_000, cancelAt: 3 });
    // First process: handles every event but runs no deadlines, then stops (a restart).
    const first = runtimeFor(prefix, [closer]);
    await first.start();
    const withStatus = (status: string) =>
      countOf(`select count(*)::int as n from tributary.reactor_deadlines where status = ?`, [
        status,
      ]);
    try {
      await waitUntil(
        async () => (await withStatus('pending')) === 3 && (await withStatus('cancelled')) === 3,
        60_000,
        'three pending and three cancelled deadlines',
      );
    } finally {
      await first.stop();
    }
    const closed = () =>
      countOf(`select count(*)::int as n from tributary.events where event_type = 'LedgerClosed'`);
    expect(await closed()).toBe(0);
    // Two new processes, both polling: each due command is claimed by one of them, once.
    const second = runtimeFor(prefix, [closer], true);
    const third = runtimeFor(prefix, [closer], true);
    await second.start();
    await third.start();
    try {
      await waitUntil(async () => (await closed()) === 3, 60_000, 'three closed ledgers');
      // Give a wrongly repeated execution time to show.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } finally {
      await second.stop();
      await third.stop();
    }
    const late = await countOf(
      `select count(*)::int as n from tributary.events e join tributary.reactor_deadlines d
         on d.id = e.metadata->>'scheduledCommandId' where e.occurred_at < d.due_at`,
    );
    expect(late).toBe(0);
    expect(await closed()).toBe(3);
    const deadlines = await first.deadlines.list(knex, 'ledger_closer');
    expect(deadlines.map((d) => d.status).sort()).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
      'executed',
      'executed',
      'executed',
    ]);
    const closedEvents = (
      await knex.raw<{ rows: { metadata: Record<string, string> }[] }>(
        `select metadata from tributary.events where event_type = 'LedgerClosed'`,
      )
    ).rows;
    for (const { metadata } of closedEvents) {
      expect(metadata['scheduledCommandId']).toMatch(/^ledger_closer:.*:s0$/);
      expect(metadata['causationId']).toBe(metadata['scheduledCommandId']);
    }
    const states = (
      await knex.raw<{ rows: { state: { seen: number }; completed: boolean }[] }>(
        `select state, completed from tributary.reactor_process_state order by correlation_id`,
      )
    ).rows;
    expect(states.filter((row) => row.completed).map((row) => row.state.seen)).toEqual([3, 3, 3]);
    expect(states.filter((row) => !row.completed).map((row) => row.state.seen)).toEqual([1, 1, 1]);
  }, 150_000);
});
