import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createInMemoryRuntime, createRuntime } from '../runtime.js';
import { recordingOutput } from './output.js';
import { runBankScenario } from './scenario.js';

const env = await useIntegrationEnv({ label: 'demo_pg' });

describe('the bank on PostgreSQL', () => {
  it('runs the demo scenario by configuration alone, with the same outcome as in memory', async () => {
    const runtime = await createRuntime('stack', {
      databaseUrl: env.databaseUrl,
      schema: 'bank_demo',
    });
    let onPostgres;
    try {
      onPostgres = await runBankScenario(runtime, recordingOutput());
    } finally {
      await runtime.close();
    }
    const inMemory = await runBankScenario(createInMemoryRuntime(), recordingOutput());
    expect(onPostgres.accounts).toEqual(inMemory.accounts);
    expect(onPostgres.transfers).toEqual(inMemory.transfers);

    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ events: number; streams: number }>(
        'select count(*)::int as events, count(distinct (aggregate_type, aggregate_id))::int as streams from bank_demo.events',
      );
      expect(rows[0]?.events).toBe(onPostgres.events);
      expect(rows[0]?.streams).toBeGreaterThanOrEqual(4);
    } finally {
      await client.end();
    }
  });
});
