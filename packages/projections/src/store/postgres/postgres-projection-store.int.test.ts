import { useIntegrationEnv } from '@tributary/testing';
import { describeProjectionStoreContract } from '@tributary/testing/vitest';
import knexFactory from 'knex';
import { resolveProjectionRuntimeConfig } from '../../config.js';
import { PostgresProjectionStore } from './postgres-projection-store.js';

// The database is this file's own (dropped by the env's cleanup after the suite's teardown).
const env = await useIntegrationEnv({ label: 'proj_store' });

describeProjectionStoreContract('PostgresProjectionStore on PostgreSQL', async () => {
  const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 8 } });
  const store = new PostgresProjectionStore(
    knex,
    resolveProjectionRuntimeConfig({ schema: 'store_contract', readModelSchema: 'store_rm' }),
  );
  await store.ensureSchema();
  return { store, teardown: () => knex.destroy() };
});
