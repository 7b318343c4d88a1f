// The embedded database must hand rows to projections as node-postgres does, or a projection
// spec that passes in memory fails on PostgreSQL (bigint as number vs string).
import knexFactory from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useIntegrationEnv } from '../stack/integration-env.js';
import { createPgliteKnex, type PgliteKnex } from './pglite.js';

const env = await useIntegrationEnv({ label: 'pglite types' });
const postgres = knexFactory({ client: 'pg', connection: env.databaseUrl });
let embedded: PgliteKnex;

beforeAll(async () => {
  embedded = await createPgliteKnex();
}, 120_000);
afterAll(async () => {
  await embedded.close();
  await postgres.destroy();
});

const TYPES_QUERY = `select 1::int8 as small_bigint, 9007199254740993::int8 as big_bigint,
  count(*) as counted, '{1,2}'::int8[] as bigints, 7::int4 as int, 2::int2 as smallint,
  1.5::numeric as numeric, 1.25::float8 as float, '{"x":[1,2.5]}'::jsonb as document,
  true as flag, '\\x01ff'::bytea as bytes, 'a'::text as text,
  '2026-01-01T10:00:00Z'::timestamptz as at, gen_random_uuid() is not null as has_uuid`;

describe('the embedded database (PGlite) parses values as node-postgres does', () => {
  it('returns the same JavaScript values for the same query (int8 as strings, bytea as Buffer, …)', async () => {
    const expected = (await postgres.raw<{ rows: unknown[] }>(TYPES_QUERY)).rows;
    const actual = (await embedded.knex.raw<{ rows: unknown[] }>(TYPES_QUERY)).rows;
    expect(actual).toEqual(expected);
    expect(actual[0]).toMatchObject({ small_bigint: '1', big_bigint: '9007199254740993' });
  });

  it('returns a bigIncrements column as a string, as node-postgres does', async () => {
    for (const knex of [postgres, embedded.knex]) {
      await knex.schema.dropTableIfExists('pglite_types');
      await knex.schema.createTable('pglite_types', (table) => {
        table.bigIncrements('seq');
        table.bigInteger('amount').notNullable();
      });
      await knex('pglite_types').insert({ amount: '12345678901234567' });
    }
    const fromPostgres = await postgres('pglite_types').select('*');
    const fromEmbedded = await embedded.knex('pglite_types').select('*');
    expect(fromEmbedded).toEqual(fromPostgres);
    expect(fromEmbedded).toEqual([{ seq: '1', amount: '12345678901234567' }]);
  });
});
