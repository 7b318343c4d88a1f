import { PostgresProjectionStore, resolveProjectionRuntimeConfig } from '@tributary/projections';
import { describeProjectionStoreContract } from '../contracts/index.js';
import { createPgliteKnex } from './pglite.js';

describeProjectionStoreContract('PostgresProjectionStore on PGlite', async () => {
  const database = await createPgliteKnex();
  const store = new PostgresProjectionStore(
    database.knex,
    resolveProjectionRuntimeConfig({
      schema: 'store_contract',
      readModelSchema: 'store_contract_rm',
    }),
  );
  await store.ensureSchema();
  return { store, teardown: () => database.close() };
});
