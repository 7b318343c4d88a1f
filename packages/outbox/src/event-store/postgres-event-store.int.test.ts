import { UpcasterChain } from '@tributary/core';
import { useIntegrationEnv } from '@tributary/testing';
import {
  describeEventStoreContract,
  describeSnapshotStoreContract,
} from '@tributary/testing/vitest';
import type { Knex } from 'knex';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKnex, migrateOutbox } from '../migrations.js';
import { PostgresEventStore } from './postgres-event-store.js';
import { PostgresSnapshotStore } from './postgres-snapshot-store.js';

const env = await useIntegrationEnv({ label: 'eventstore' });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 12 });
await migrateOutbox({ connectionString: env.databaseUrl });
afterAll(async () => {
  await pool.end();
});

describeEventStoreContract('PostgresEventStore', () =>
  Promise.resolve({ store: new PostgresEventStore({ connection: pool }) }),
);

describeSnapshotStoreContract('PostgresSnapshotStore', () =>
  Promise.resolve({
    store: new PostgresSnapshotStore({ connection: pool }),
    eventStore: new PostgresEventStore({ connection: pool }),
  }),
);

const stream = (aggregateId: string): { aggregateType: string; aggregateId: string } => ({
  aggregateType: 'Order',
  aggregateId,
});

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(sql, params);
  return rows[0]?.n ?? -1;
}

describe('migrations', () => {
  it('are idempotent: a second run applies nothing', async () => {
    const again = await migrateOutbox({ connectionString: env.databaseUrl });
    expect(again.applied).toEqual([]);
  });

  it('honour configured schema and table names', async () => {
    const config = {
      schema: 'orders_es',
      eventsTable: 'order_events',
      snapshotsTable: 'order_snapshots',
    };
    const first = await migrateOutbox({ connectionString: env.databaseUrl, config });
    expect(first.applied).toEqual([
      '0001_create_events',
      '0002_create_snapshots',
      '0003_create_commands',
    ]);
    const store = new PostgresEventStore({ connection: pool, config });
    await store.appendToStream(stream('custom-1'), [{ type: 'OrderPlaced', data: {} }]);
    expect(await count('select count(*)::int as n from orders_es.order_events')).toBe(1);
    expect(
      await count('select count(*)::int as n from tributary.events where aggregate_id = $1', [
        'custom-1',
      ]),
    ).toBe(0);
  });

  it('reject identifiers that are not plain SQL names, before touching the database', async () => {
    for (const schema of ['Bad-Name', 'x"; drop schema public; --', '', '1abc']) {
      await expect(
        migrateOutbox({ connectionString: env.databaseUrl, config: { schema } }),
      ).rejects.toMatchObject({
        code: 'INVALID_IDENTIFIER',
      });
      expect(
        () => new PostgresEventStore({ connection: pool, config: { eventsTable: schema } }),
      ).toThrow(/Invalid eventsTable/);
    }
  });

  it('create the outbox table with the stream-version constraint as concurrency guard', async () => {
    const { rows } = await pool.query<{ column_name: string }>(
      `select column_name from information_schema.columns where table_schema = 'tributary' and table_name = 'events' order by ordinal_position`,
    );
    expect(rows.map((row) => row.column_name)).toEqual([
      'position',
      'event_id',
      'aggregate_type',
      'aggregate_id',
      'aggregate_version',
      'event_type',
      'schema_version',
      'payload',
      'metadata',
      'occurred_at',
    ]);
  });
});

describe('PostgresEventStore in a caller transaction', () => {
  let knex: Knex;
  const store = new PostgresEventStore({ connection: pool });
  beforeAll(async () => {
    knex = createKnex(env.databaseUrl);
    await knex.raw('create table if not exists orders (id text primary key, total int not null)');
  });
  afterAll(async () => {
    await knex.destroy();
  });

  it('commits domain rows and events together in a knex transaction', async () => {
    await knex.transaction(async (trx) => {
      await trx('orders').insert({ id: 'o-1', total: 30 });
      await store
        .withTransaction(trx)
        .appendToStream(stream('o-1'), [{ type: 'OrderPlaced', data: { total: 30 } }]);
    });
    expect(await count(`select count(*)::int as n from orders where id = 'o-1'`)).toBe(1);
    expect((await store.readStream(stream('o-1'))).currentVersion).toBe(1);
  });

  it('rolls back domain rows and events together in a knex transaction', async () => {
    const failure = await knex
      .transaction(async (trx) => {
        await trx('orders').insert({ id: 'o-2', total: 5 });
        await store
          .withTransaction(trx)
          .appendToStream(stream('o-2'), [{ type: 'OrderPlaced', data: { total: 5 } }]);
        throw new Error('payment declined');
      })
      .catch((error: unknown) => error);
    expect((failure as Error).message).toBe('payment declined');
    expect(await count(`select count(*)::int as n from orders where id = 'o-2'`)).toBe(0);
    expect((await store.readStream(stream('o-2'))).currentVersion).toBe(0);
  });

  it('rolls back with a pg client transaction too', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await store
        .withTransaction(client)
        .appendToStream(stream('o-3'), [{ type: 'OrderPlaced', data: {} }]);
      expect((await store.withTransaction(client).readStream(stream('o-3'))).currentVersion).toBe(
        1,
      );
      await client.query('rollback');
    } finally {
      client.release();
    }
    expect((await store.readStream(stream('o-3'))).currentVersion).toBe(0);
  });

  it('surfaces a conflict inside the caller transaction as a ConcurrencyError', async () => {
    await store.appendToStream(stream('o-4'), [{ type: 'OrderPlaced', data: {} }]);
    const error = await knex
      .transaction((trx) =>
        store
          .withTransaction(trx)
          .appendToStream(stream('o-4'), [{ type: 'OrderPlaced', data: {} }], {
            expectedVersion: 0,
          }),
      )
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'CONCURRENCY_CONFLICT', actualVersion: 1 });
  });
});

describe('PostgresEventStore appends', () => {
  const store = new PostgresEventStore({ connection: pool });

  it('uses one round trip per append, whatever the number of events and streams', async () => {
    let statements = 0;
    // A pool (each statement commits on its own) whose statements are counted.
    const counting = Object.create(pool, {
      query: {
        value: (...args: Parameters<pg.Pool['query']>) => {
          statements += 1;
          return (pool.query as (...a: unknown[]) => unknown)(...args);
        },
      },
    }) as pg.Pool;
    const countingStore = new PostgresEventStore({ connection: counting });
    await countingStore.appendToStream(
      stream('rt-1'),
      Array.from({ length: 10 }, (_, n) => ({ type: 'LineAdded', data: { n } })),
    );
    expect(statements).toBe(1);
    await countingStore.appendMany([
      { stream: stream('rt-2'), events: [{ type: 'OrderPlaced', data: {} }] },
      {
        stream: stream('rt-3'),
        events: [
          { type: 'OrderPlaced', data: {} },
          { type: 'LineAdded', data: {} },
        ],
      },
    ]);
    expect(statements).toBe(2);
  });

  it('lets exactly one of 8 concurrent writers win each version over 1,000 attempts', async () => {
    const target = stream(`contended-${Date.now()}`);
    const writers = 8;
    const attemptsPerWriter = 125;
    let wins = 0;
    let conflicts = 0;
    await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        for (let attempt = 0; attempt < attemptsPerWriter; attempt += 1) {
          const { currentVersion } = await store.readStream(target, {
            fromVersion: 1,
            maxCount: 1,
          });
          try {
            await store.appendToStream(target, [{ type: 'LineAdded', data: { writer, attempt } }], {
              expectedVersion: currentVersion,
            });
            wins += 1;
          } catch (error) {
            expect(error).toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
            conflicts += 1;
          }
        }
      }),
    );
    expect(wins + conflicts).toBe(1_000);
    expect(conflicts).toBeGreaterThan(0);
    const { events, currentVersion } = await store.readStream(target);
    expect(currentVersion).toBe(wins);
    expect(events.map((event) => event.aggregateVersion)).toEqual(
      Array.from({ length: wins }, (_, i) => i + 1),
    );
    expect(new Set(events.map((event) => event.eventId)).size).toBe(wins);
  });

  it("retries 'any' appends that race, so concurrent writers never lose an event", async () => {
    const target = stream(`any-${Date.now()}`);
    await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        store.appendToStream(target, [{ type: 'LineAdded', data: { n } }]),
      ),
    );
    const { events } = await store.readStream(target);
    expect(events).toHaveLength(40);
    expect(events.map((event) => event.aggregateVersion)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  });

  it('upcasts on read when given an upcaster chain', async () => {
    await store.appendToStream(stream('up-1'), [
      { type: 'OrderPlaced', data: { amount: 5 }, schemaVersion: 1 },
    ]);
    const upcasting = new PostgresEventStore({
      connection: pool,
      upcasters: new UpcasterChain([
        {
          eventType: 'OrderPlaced',
          fromVersion: 1,
          upcast: (payload) => ({ total: { cents: (payload as { amount: number }).amount * 100 } }),
        },
      ]),
    });
    const [event] = (await upcasting.readStream(stream('up-1'))).events;
    expect(event).toMatchObject({ schemaVersion: 2, payload: { total: { cents: 500 } } });
  });
});
