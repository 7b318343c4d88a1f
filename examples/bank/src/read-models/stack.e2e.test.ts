import { createKafkajsClient } from '@tributary/kafkajs';
import { defineProjection, rebuildProjection } from '@tributary/projections';
import { useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { describe, expect, it } from 'vitest';
import { bankUpcasters } from '../account/upcasters.js';
import { recordingOutput } from '../demo/output.js';
import { runBankScenario } from '../demo/scenario.js';
import { createRuntime } from '../runtime.js';
import { accountBalancesProjection } from './projections.js';

const env = await useIntegrationEnv({ label: 'bank_read' });

describe('the bank on the real stack, read side included', () => {
  it('runs command → PostgreSQL outbox → WAL capture → Kafka → projections → query, then rebuilds a read model by replay that equals the live one and swaps it in', async () => {
    const schema = env.namespace;
    const runtime = await createRuntime('stack', {
      databaseUrl: env.databaseUrl,
      kafkaBrokers: env.kafkaBrokers,
      schema,
      readModels: true,
    });
    const knex = knexFactory({
      client: 'pg',
      connection: env.databaseUrl,
      pool: { min: 0, max: 6 },
    });
    try {
      const summary = await runBankScenario(runtime, recordingOutput());
      const readSide = runtime.readSide;
      if (readSide === undefined) throw new Error('no read side');
      await readSide.catchUp();
      const balances = await readSide.balances();
      expect(
        balances.map((row) => [row.accountId, row.balanceCents, row.status, row.version]),
      ).toEqual(
        Object.values(summary.accounts)
          .map((account) => [
            account.accountId,
            account.balanceCents,
            account.status,
            account.version,
          ])
          .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      );
      expect((await readSide.transfers()).map((row) => [row.transferId, row.status])).toEqual(
        Object.values(summary.transfers).map((transfer) => [transfer.transferId, transfer.status]),
      );
      expect(await readSide.applications()).toEqual({
        events: summary.events,
        appliedOnce: summary.events,
        appliedMoreThanOnce: 0,
      });

      // Rebuild: version 2 of the balances, replayed from the earliest offsets into its own
      // tables while version 1 serves; verified equal, then swapped in atomically.
      const before = (await knex(`${schema}_read.account_balances`)
        .select('*')
        .orderBy('account_id')) as unknown[];
      const v2 = defineProjection({ ...accountBalancesProjection, version: 2 });
      const progress: number[] = [];
      const result = await rebuildProjection({
        kafka: createKafkajsClient({ clientId: 'bank-rebuild', brokers: env.kafkaBrokers }),
        knex,
        projection: v2,
        upcasters: bankUpcasters,
        config: {
          schema: `${schema}_projections`,
          readModelSchema: `${schema}_read`,
          topicPrefix: `${schema}.events`,
          groupIdPrefix: `bank.${schema}`,
          sessionTimeoutMs: 10_000,
          heartbeatIntervalMs: 1_000,
        },
        verify: true,
        onProgress: (p) => progress.push(p.applied),
      });
      expect(result.differences).toEqual({ account_balances: 0 });
      expect(result.retiredVersion).toBe(1);
      expect(progress.length).toBeGreaterThan(0);
      const after = (await knex(`${schema}_read.account_balances`)
        .select('*')
        .orderBy('account_id')) as unknown[];
      expect(after).toEqual(before);
      expect(await knex.schema.withSchema(`${schema}_read`).hasTable('account_balances_v1')).toBe(
        false,
      );
      expect(await knex.schema.withSchema(`${schema}_read`).hasTable('account_balances_v2')).toBe(
        true,
      );
    } finally {
      await knex.destroy();
      await runtime.close();
    }
  }, 180_000);
});
