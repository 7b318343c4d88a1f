import {
  createSchemaPayloadValidator,
  defineEventSchemas,
  isTributaryError,
  jsonSchema,
} from '@tributary/core';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { migrateOutbox } from '../migrations.js';

const env = await useIntegrationEnv({ label: 'schema validation' });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
await migrateOutbox({ connectionString: env.databaseUrl });
afterAll(async () => {
  await pool.end();
});

const payloadValidator = createSchemaPayloadValidator({
  catalog: defineEventSchemas([
    jsonSchema({
      aggregateType: 'Account',
      eventType: 'Deposited',
      schema: { type: 'object', properties: { amount: { type: 'integer' } }, required: ['amount'] },
    }),
  ]),
});

describe('PostgresEventStore with a payload validator', () => {
  it('rejects a multi-stream append with one bad payload and writes no row at all', async () => {
    const store = new PostgresEventStore({ connection: pool, payloadValidator });
    const error = await store
      .appendMany([
        {
          stream: { aggregateType: 'Account', aggregateId: 'a' },
          events: [{ type: 'Deposited', data: { amount: 1 } }],
        },
        {
          stream: { aggregateType: 'Account', aggregateId: 'b' },
          events: [{ type: 'Deposited', data: {} }],
        },
      ])
      .catch((caught: unknown) => caught);
    expect(isTributaryError(error, 'PAYLOAD_SCHEMA_MISMATCH')).toBe(true);
    expect((error as { issues: { path: string }[] }).issues.map((issue) => issue.path)).toEqual([
      '/amount',
    ]);
    const { rows } = await pool.query<{ n: number }>(
      'select count(*)::int as n from tributary.events',
    );
    expect(rows[0]?.n).toBe(0);
    await store.appendToStream({ aggregateType: 'Account', aggregateId: 'a' }, [
      { type: 'Deposited', data: { amount: 1 } },
    ]);
    const after = await pool.query<{ n: number }>(
      'select count(*)::int as n from tributary.events',
    );
    expect(after.rows[0]?.n).toBe(1);
  });
});
