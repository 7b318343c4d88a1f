import { createTcpFaultProxy, useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresProjectionKnexConfig } from './connection.js';

const env = await useIntegrationEnv({ label: 'projection-connection' });
const url = new URL(env.databaseUrl);
const proxy = await createTcpFaultProxy({
  target: { host: url.hostname, port: Number(url.port) },
});
afterAll(() => proxy.close());

describe('the projection runtime connections', () => {
  it('fail a query sent into a black-holed connection within the query timeout, discard it, and work again once the network does', async () => {
    const proxied = new URL(env.databaseUrl);
    proxied.port = String(proxy.port);
    // One connection: the query after the fault can only succeed on a new one.
    const knex = knexFactory(
      postgresProjectionKnexConfig({
        databaseUrl: proxied.toString(),
        poolSize: 1,
        queryTimeoutMs: 1_000,
      }),
    );
    try {
      await expect(knex.raw('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
      proxy.blackHole();
      const started = Date.now();
      await expect(
        knex.transaction(async (trx) => {
          await trx.raw('select pg_sleep(0)');
        }),
      ).rejects.toThrow(/Query read timeout|Connection terminated|ended unexpectedly/);
      expect(Date.now() - started).toBeLessThan(10_000);
      proxy.restore();
      await expect(knex.raw('select 2 as two')).resolves.toMatchObject({ rows: [{ two: 2 }] });
      expect(proxy.acceptedConnections).toBe(2);
    } finally {
      await knex.destroy();
    }
  }, 60_000);
});
