/**
 * Commands on real PostgreSQL where the connection, not the domain, gets in the way: a reply
 * lost after the commit, and version conflicts inside a caller's transaction.
 */
import {
  command,
  CommandBus,
  ConcurrencyError,
  defineAggregate,
  uuidV7,
  type DomainEvent,
} from '@tributary/core';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrateOutbox } from '../migrations.js';
import { PostgresEventStore } from './postgres-event-store.js';

const env = await useIntegrationEnv({ label: 'idemcmd' });
await migrateOutbox({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 6 });
const store = new PostgresEventStore({ connection: pool });
afterAll(async () => {
  await pool.end();
});

class Deposit {
  static readonly commandType = 'Deposit';
  accountId!: string;
  amount!: number;
}
type AccountEvent = DomainEvent<'Deposited', { amount: number }>;
const Account = defineAggregate<{ balance: number }, AccountEvent>({
  type: 'Account',
  initialState: () => ({ balance: 0 }),
  evolve: { Deposited: (state, { amount }) => ({ balance: state.balance + amount }) },
}).handles(Deposit, {
  aggregateId: (cmd) => cmd.accountId,
  decide: (cmd) => ({ type: 'Deposited', data: { amount: cmd.amount } }),
});

const busOver = (eventStore: PostgresEventStore): CommandBus =>
  new CommandBus({ eventStore, aggregates: [Account], validate: false, retry: { retries: 5 } });
const stream = (accountId: string) => ({ aggregateType: 'Account', aggregateId: accountId });

describe('idempotent commands on PostgreSQL', () => {
  it('a command whose append committed but whose reply was lost appends nothing when a new process retries its command id', async () => {
    const accountId = `acc-${uuidV7()}`;
    const commandId = `cmd-${uuidV7()}`;
    // Process 1: its own pool; the append commits, then the connection "drops" before the
    // reply reaches the bus (the statement ran on the real server and committed).
    const firstPool = new pg.Pool({ connectionString: env.databaseUrl, max: 1 });
    let lose = true;
    const losingReplies = Object.create(firstPool, {
      query: {
        value: async (config: pg.QueryConfig) => {
          const result = await firstPool.query(config);
          if (lose && config.name?.startsWith('tributary_append') === true) {
            lose = false;
            throw new Error('Connection terminated unexpectedly');
          }
          return result;
        },
      },
    }) as pg.Pool;
    await expect(
      busOver(new PostgresEventStore({ connection: losingReplies })).execute(
        command(Deposit, { accountId, amount: 10 }),
        { commandId },
      ),
    ).rejects.toThrow(/Connection terminated/);
    await firstPool.end();
    const committed = await store.readStream(stream(accountId));
    expect(committed.events.map((event) => event.payload)).toEqual([{ amount: 10 }]);

    // Process 2: a fresh pool, store and bus retry the same command id.
    const secondPool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
    try {
      const retried = await busOver(new PostgresEventStore({ connection: secondPool })).execute(
        command(Deposit, { accountId, amount: 10 }),
        { commandId },
      );
      expect(retried).toMatchObject({ commandId, version: 1, state: { balance: 10 } });
      expect(retried.events.map((event) => event.eventId)).toEqual(
        committed.events.map((event) => event.eventId),
      );
    } finally {
      await secondPool.end();
    }
    expect((await store.readStream(stream(accountId))).currentVersion).toBe(1);
    const { rows } = await pool.query<{ n: number }>(
      'select count(*)::int as n from tributary.commands where command_id = $1',
      [commandId],
    );
    expect(rows[0]?.n).toBe(1);
  });

  it('inside withTransaction a lost race is a ConcurrencyError and the transaction stays usable', async () => {
    const accountId = `acc-${uuidV7()}`;
    const winner = await pool.connect();
    const loser = await pool.connect();
    try {
      await winner.query('begin');
      await loser.query('begin');
      await store
        .withTransaction(winner)
        .appendToStream(stream(accountId), [{ type: 'Deposited', data: { amount: 1 } }], {
          expectedVersion: 0,
        });
      // Blocks on the winner's uncommitted version 1, then loses when it commits.
      const racing = store
        .withTransaction(loser)
        .appendToStream(stream(accountId), [{ type: 'Deposited', data: { amount: 2 } }], {
          expectedVersion: 0,
        })
        .catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await winner.query('commit');
      const error = await racing;
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(error).toMatchObject({ code: 'CONCURRENCY_CONFLICT', actualVersion: 1 });
      // Not "current transaction is aborted": the loser carries on in the same transaction.
      await store
        .withTransaction(loser)
        .appendToStream(stream(accountId), [{ type: 'Deposited', data: { amount: 3 } }], {
          expectedVersion: 1,
        });
      await loser.query('commit');
    } finally {
      winner.release();
      loser.release();
    }
    const { events } = await store.readStream(stream(accountId));
    expect(events.map((event) => event.payload)).toEqual([{ amount: 1 }, { amount: 3 }]);
  });

  it('the command bus over withTransaction retries a lost race inside the same transaction', async () => {
    const accountId = `acc-${uuidV7()}`;
    const other = await pool.connect();
    const mine = await pool.connect();
    try {
      await other.query('begin');
      await store
        .withTransaction(other)
        .appendToStream(stream(accountId), [{ type: 'Deposited', data: { amount: 100 } }]);
      await mine.query('begin');
      // Loads version 0 (the other write is not committed), then blocks on its version 1.
      const executing = busOver(store.withTransaction(mine)).execute(
        command(Deposit, { accountId, amount: 5 }),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      await other.query('commit');
      const result = await executing;
      expect(result).toMatchObject({ version: 2, state: { balance: 105 }, attempts: 2 });
      await mine.query('commit');
    } finally {
      other.release();
      mine.release();
    }
    expect((await store.readStream(stream(accountId))).currentVersion).toBe(2);
  });
});
