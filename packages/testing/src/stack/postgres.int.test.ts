import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import type { Pgoutput } from 'pg-logical-replication';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { useIntegrationEnv } from './integration-env.js';

const env = await useIntegrationEnv({ label: 'postgres smoke' });
const client = new pg.Client({ connectionString: env.databaseUrl });
await client.connect();
afterAll(() => client.end());

describe('the stack PostgreSQL server', () => {
  it('gives each test file its own database', async () => {
    const { rows } = await client.query<{ db: string }>('select current_database() as db');
    expect(rows[0]?.db).toBe(env.database);
  });

  it('streams an insert through a pgoutput logical replication slot (protocol v1)', async () => {
    await client.query(
      'create table smoke_events (id int primary key, kind text not null, payload jsonb not null)',
    );
    const publication = env.name('pub');
    const slot = env.name('slot');
    await client.query(
      `create publication ${publication} for table smoke_events with (publish = 'insert')`,
    );
    await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);

    const service = new LogicalReplicationService(
      { connectionString: env.databaseUrl },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    const inserted = new Promise<{ lsn: string; message: Pgoutput.MessageInsert }>(
      (resolveInsert, reject) => {
        service.on('data', (lsn: string, message: Pgoutput.Message) => {
          if (message.tag === 'insert') resolveInsert({ lsn, message });
        });
        service.on('error', reject);
      },
    );
    const streaming = service.subscribe(
      new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] }),
      slot,
    );
    try {
      await client.query(`insert into smoke_events values (42, 'AccountOpened', '{"amount": 10}')`);
      const { lsn, message } = await inserted;

      expect(message.relation.schema).toBe('public');
      expect(message.relation.name).toBe('smoke_events');
      expect(message.new).toEqual({ id: 42, kind: 'AccountOpened', payload: { amount: 10 } });
      // Manual acknowledgement (what the capturer does after a Kafka commit) moves the slot.
      await service.acknowledge(lsn);
      const { rows } = await client.query<{ plugin: string; active: boolean }>(
        'select plugin, active from pg_replication_slots where slot_name = $1',
        [slot],
      );
      expect(rows[0]).toEqual({ plugin: 'pgoutput', active: true });
    } finally {
      await service.stop();
      await streaming.catch(() => undefined);
    }
  });
});
