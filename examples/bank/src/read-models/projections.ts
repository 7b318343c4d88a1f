import type { DomainEvent } from '@tributary/core';
import { defineProjection } from '@tributary/projections';
import type { Knex } from 'knex';
import type { AccountEvent } from '../account/events.js';
import type { TransferEvent } from '../transfer/events.js';

/**
 * Balance, owner and status per account, as the teller screen shows them. Columns are
 * derived from events only (no clock, no serial ids), so a rebuild reproduces them exactly.
 */
export const accountBalancesProjection = defineProjection<AccountEvent, 'account_balances'>({
  name: 'account_balances',
  version: 1,
  aggregateTypes: ['Account'],
  tables: ['account_balances'],
  migrations: [
    {
      name: '0001_account_balances',
      async up(_trx, migration) {
        await migration.createTable('account_balances', (table) => {
          table.text('account_id').primary();
          table.text('owner_name').notNullable();
          table.text('currency').notNullable();
          table.bigInteger('balance_cents').notNullable();
          table.text('status').notNullable();
          table.integer('version').notNullable();
          table.text('updated_at').notNullable();
        });
      },
    },
  ],
  handlers: {
    async AccountOpened(event, { trx, tables }) {
      await trx(tables.account_balances).insert({
        account_id: event.payload.accountId,
        owner_name: event.payload.owner.name,
        currency: event.payload.currency,
        balance_cents: 0,
        status: 'open',
        version: event.aggregateVersion,
        updated_at: event.occurredAt,
      });
    },
    async MoneyDeposited(event, { trx, tables }) {
      await trx(tables.account_balances)
        .where({ account_id: event.aggregateId })
        .update({
          balance_cents: trx.raw('balance_cents + ?', [event.payload.amountCents]),
          version: event.aggregateVersion,
          updated_at: event.occurredAt,
        });
    },
    async MoneyWithdrawn(event, { trx, tables }) {
      await trx(tables.account_balances)
        .where({ account_id: event.aggregateId })
        .update({
          balance_cents: trx.raw('balance_cents - ?', [event.payload.amountCents]),
          version: event.aggregateVersion,
          updated_at: event.occurredAt,
        });
    },
    async AccountFrozen(event, { trx, tables }) {
      await setStatus(trx, tables.account_balances, event, 'frozen');
    },
    async AccountUnfrozen(event, { trx, tables }) {
      await setStatus(trx, tables.account_balances, event, 'open');
    },
    async AccountClosed(event, { trx, tables }) {
      await setStatus(trx, tables.account_balances, event, 'closed');
    },
  },
});

async function setStatus(
  trx: Parameters<NonNullable<typeof accountBalancesProjection.handlers.AccountClosed>>[1]['trx'],
  table: string,
  event: { aggregateId: string; aggregateVersion: number; occurredAt: string },
  status: string,
): Promise<void> {
  await trx(table)
    .where({ account_id: event.aggregateId })
    .update({ status, version: event.aggregateVersion, updated_at: event.occurredAt });
}

/** Every transfer with its outcome. */
export const transferListProjection = defineProjection<TransferEvent, 'transfers'>({
  name: 'transfer_list',
  version: 1,
  aggregateTypes: ['Transfer'],
  tables: ['transfers'],
  migrations: [
    {
      name: '0001_transfers',
      async up(_trx, migration) {
        await migration.createTable('transfers', (table) => {
          table.text('transfer_id').primary();
          table.text('source_account_id').notNullable();
          table.text('target_account_id').notNullable();
          table.bigInteger('amount_cents').notNullable();
          table.text('currency').notNullable();
          table.text('status').notNullable();
          table.text('failure_reason');
          table.text('requested_at').notNullable();
        });
      },
    },
  ],
  handlers: {
    async TransferRequested(event, { trx, tables }) {
      await trx(tables.transfers).insert({
        transfer_id: event.aggregateId,
        source_account_id: event.payload.sourceAccountId,
        target_account_id: event.payload.targetAccountId,
        amount_cents: event.payload.amountCents,
        currency: event.payload.currency,
        status: 'requested',
        requested_at: event.occurredAt,
      });
    },
    async TransferCompleted(event, { trx, tables }) {
      await trx(tables.transfers)
        .where({ transfer_id: event.aggregateId })
        .update({ status: 'completed' });
    },
    async TransferFailed(event, { trx, tables }) {
      await trx(tables.transfers)
        .where({ transfer_id: event.aggregateId })
        .update({ status: 'failed', failure_reason: event.payload.reason });
    },
  },
});

type AnyBankEvent = AccountEvent | TransferEvent;

/**
 * How many times each event was applied: the evidence of exactly-once (every count must
 * be 1), also under crashes and redelivery.
 */
export const eventApplicationsProjection = defineProjection<
  AnyBankEvent | DomainEvent,
  'event_applications'
>({
  name: 'event_applications',
  version: 1,
  aggregateTypes: ['Account', 'Transfer'],
  tables: ['event_applications'],
  migrations: [
    {
      name: '0001_event_applications',
      async up(_trx, migration) {
        await migration.createTable('event_applications', (table) => {
          table.uuid('event_id').primary();
          table.text('aggregate_type').notNullable();
          table.text('aggregate_id').notNullable();
          table.integer('aggregate_version').notNullable();
          table.text('event_type').notNullable();
          table.integer('applications').notNullable();
        });
      },
    },
  ],
  handlers: Object.fromEntries(
    [
      'AccountOpened',
      'MoneyDeposited',
      'MoneyWithdrawn',
      'AccountFrozen',
      'AccountUnfrozen',
      'AccountClosed',
      'TransferRequested',
      'TransferCompleted',
      'TransferFailed',
    ].map((type) => [
      type,
      async (
        event: {
          eventId: string;
          aggregateType: string;
          aggregateId: string;
          aggregateVersion: number;
          eventType: string;
        },
        { trx, tables }: { trx: Knex.Transaction; tables: { event_applications: string } },
      ) => {
        await trx.raw(
          `insert into ?? as a (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, applications)
           values (?, ?, ?, ?, ?, 1)
           on conflict (event_id) do update set applications = a.applications + 1`,
          [
            tables.event_applications,
            event.eventId,
            event.aggregateType,
            event.aggregateId,
            event.aggregateVersion,
            event.eventType,
          ],
        );
      },
    ]),
  ),
});

/** The bank's projections (also the module `tributary project --module` loads). */
export const bankProjections = [
  accountBalancesProjection,
  transferListProjection,
  eventApplicationsProjection,
] as const;
