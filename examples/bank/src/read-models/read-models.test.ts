import {
  createPgliteKnex,
  givenEvent,
  givenRawEvent,
  type InMemoryEventStore,
  InMemoryKafkaLog,
  InMemoryProjectionRuntime,
  projectionSpec,
  relayEventsToLog,
  type PgliteKnex,
} from '@tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bankUpcasters } from '../account/upcasters.js';
import { ibanOf } from '../iban.js';
import { createInMemoryRuntime } from '../runtime.js';
import {
  accountBalancesProjection,
  bankProjections,
  transferListProjection,
} from './projections.js';

let db: PgliteKnex;
beforeAll(async () => {
  // One embedded PostgreSQL for the file: PGlite costs about a second to start.
  db = await createPgliteKnex();
}, 120_000);
afterAll(async () => {
  await db.close();
});

const ann = ibanOf('DE', '370400440532013000');
const bob = ibanOf('FR', '20041010050500013M02606');

describe('account balances read model', () => {
  it('given an opened account with deposits and a withdrawal, then shows the balance and last version', async () => {
    await projectionSpec(accountBalancesProjection, { knex: db.knex, upcasters: bankUpcasters })
      .given(
        givenEvent(
          'Account',
          ann,
          'AccountOpened',
          {
            accountId: ann,
            owner: { name: 'Ann' },
            currency: 'EUR',
            dailyWithdrawalLimitCents: 100_000,
          },
          { occurredAt: '2026-01-01T00:00:00.000Z', schemaVersion: 2 },
        ),
        givenEvent(
          'Account',
          ann,
          'MoneyDeposited',
          { amountCents: 10_000 },
          { occurredAt: '2026-01-02T00:00:00.000Z' },
        ),
        givenEvent(
          'Account',
          ann,
          'MoneyWithdrawn',
          { amountCents: 2_500, bookingDate: '2026-01-03' },
          { occurredAt: '2026-01-03T00:00:00.000Z' },
        ),
        givenEvent(
          'Account',
          ann,
          'AccountFrozen',
          { reason: 'audit' },
          { occurredAt: '2026-01-04T00:00:00.000Z' },
        ),
      )
      .thenRows('account_balances', [
        {
          account_id: ann,
          owner_name: 'Ann',
          currency: 'EUR',
          balance_cents: '7500', // bigint columns arrive as strings, as from node-postgres
          status: 'frozen',
          version: 4,
          updated_at: '2026-01-04T00:00:00.000Z',
        },
      ]);
  });

  it('given a schema version 1 AccountOpened, then projects it upcast (owner object, EUR)', async () => {
    await projectionSpec(accountBalancesProjection, { knex: db.knex, upcasters: bankUpcasters })
      .given(
        // The schema-1 payload predates the current AccountOpened type: given raw.
        givenRawEvent(
          'Account',
          bob,
          'AccountOpened',
          { accountId: bob, owner: 'Bob', dailyWithdrawalLimitCents: 1 },
          { schemaVersion: 1 },
        ),
      )
      .then(async ({ knex, views }) => {
        const rows = (await knex(views.account_balances).select(
          'owner_name',
          'currency',
        )) as unknown[];
        expect(rows).toEqual([{ owner_name: 'Bob', currency: 'EUR' }]);
      });
  });
});

describe('transfer list read model', () => {
  it('given a requested then failed transfer, then lists it failed with the reason', async () => {
    await projectionSpec(transferListProjection, { knex: db.knex })
      .given(
        givenEvent(
          'Transfer',
          'tr-1',
          'TransferRequested',
          {
            sourceAccountId: ann,
            targetAccountId: bob,
            amountCents: 500,
            currency: 'EUR',
            bookingDate: '2026-01-01',
          },
          { occurredAt: '2026-01-01T00:00:00.000Z' },
        ),
        givenEvent('Transfer', 'tr-1', 'TransferFailed', { reason: 'frozen' }),
      )
      .thenRows('transfers', [
        {
          transfer_id: 'tr-1',
          source_account_id: ann,
          target_account_id: bob,
          amount_cents: '500',
          currency: 'EUR',
          status: 'failed',
          failure_reason: 'frozen',
          requested_at: '2026-01-01T00:00:00.000Z',
        },
      ]);
  });
});

describe('the whole flow: command → events → records → read models', () => {
  it('applies every effect exactly once despite duplicated records, redelivery, crashes between handler and checkpoint and a rebalance', async () => {
    const runtime = createInMemoryRuntime();
    const store = runtime.eventStore as InMemoryEventStore;
    const log = new InMemoryKafkaLog();
    for (const type of ['Account', 'Transfer'])
      log.createTopic(`events.${type}`, { partitions: 3 });
    // An at-least-once relay: every record is published twice.
    const relay = relayEventsToLog(store, log, {
      partitions: 3,
      tamper: (messages) => messages.flatMap((m) => [m, m]),
    });
    const projections = new InMemoryProjectionRuntime({
      log,
      knex: db.knex,
      projections: bankProjections,
      upcasters: bankUpcasters,
      config: { schema: 'flow_rt', readModelSchema: 'flow_rm', ordering: 'warn' },
      // Members re-read from Kafka's committed offsets, which trail the database checkpoints.
      seekOnAssignment: false,
    });
    const repeats: string[] = [];
    projections.instrumentation.on('projection.ordering.violation', (v) =>
      repeats.push(`${v.projection}:${v.aggregateId}:${v.actualVersion}`),
    );
    await projections.start();

    const { bank } = runtime;
    await bank.openAccount({
      accountId: ann,
      ownerName: 'Ann',
      currency: 'EUR',
      dailyWithdrawalLimitCents: 100_000,
    });
    await bank.openAccount({
      accountId: bob,
      ownerName: 'Bob',
      currency: 'EUR',
      dailyWithdrawalLimitCents: 100_000,
    });
    await bank.deposit({ accountId: ann, amountCents: 50_000, currency: 'EUR' });
    await relay.flush();
    projections.crashAt('after-handlers');
    projections.crashAt('after-commit', 2);
    const first = await projections.runUntilIdle();
    await projections.addMember('account_balances');
    await bank.transfer({
      transferId: 'tr-1',
      sourceAccountId: ann,
      targetAccountId: bob,
      amountCents: 20_000,
      currency: 'EUR',
      bookingDate: '2026-01-05',
    });
    await bank.withdraw({
      accountId: bob,
      amountCents: 5_000,
      currency: 'EUR',
      bookingDate: '2026-01-06',
    });
    await relay.flush();
    projections.crashAt('after-commit');
    const second = await projections.runUntilIdle();
    await relay.stop();

    expect(first.crashes + second.crashes).toBe(3);
    expect(first.skipped + second.skipped).toBeGreaterThan(0); // redelivered records were skipped
    const events = store.allEvents().map((positioned) => positioned.envelope);
    // Every event arrived twice; each projection reading its topics saw each duplicate once.
    expect(repeats.length).toBeGreaterThanOrEqual(events.length);
    const applications: { event_id: string; applications: number }[] = await db
      .knex('flow_rm.event_applications')
      .select('event_id', 'applications');
    expect(applications.map((row) => row.event_id).sort()).toEqual(
      events.map((e) => e.eventId).sort(),
    );
    expect(applications.every((row) => row.applications === 1)).toBe(true);
    const balances = (await db
      .knex('flow_rm.account_balances')
      .select('account_id', 'balance_cents')
      .orderBy('account_id')) as {
      account_id: string;
      balance_cents: string;
    }[];
    const annState = await bank.account(ann);
    const bobState = await bank.account(bob);
    expect(balances).toEqual([
      { account_id: ann, balance_cents: String(annState.balanceCents) },
      { account_id: bob, balance_cents: String(bobState.balanceCents) },
    ]);
    expect(annState.balanceCents).toBe(30_000);
    expect(bobState.balanceCents).toBe(15_000);
    const transfers = (await db
      .knex('flow_rm.transfers')
      .select('transfer_id', 'status')) as unknown[];
    expect(transfers).toEqual([{ transfer_id: 'tr-1', status: 'completed' }]);
    await projections.stop();
  });
});
