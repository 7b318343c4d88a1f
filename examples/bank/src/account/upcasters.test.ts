import { command, type EventEnvelope, UpcastError } from '@tributary/core';
import { aggregateSpec } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { ibanOf } from '../iban.js';
import { Account } from './account.js';
import { DepositMoney, WithdrawMoney } from './commands.js';
import { CurrencyMismatch } from './errors.js';
import type { AccountOpenedV1Payload } from './events.js';
import { bankUpcasters } from './upcasters.js';

const ACCOUNT_ID = ibanOf('DE', '370400440532013000');
const openedV1 = {
  type: 'AccountOpened',
  schemaVersion: 1,
  data: {
    accountId: ACCOUNT_ID,
    owner: 'Grace Hopper',
    dailyWithdrawalLimitCents: 20_000,
  } satisfies AccountOpenedV1Payload,
};

describe('AccountOpened v1 → v2', () => {
  it('is stored at schema version 2 when written today', () => {
    expect(Account.schemaVersionOf('AccountOpened')).toBe(2);
    expect(Account.schemaVersionOf('MoneyDeposited')).toBe(1);
  });

  it('turns the owner string into { name } and makes the implicit euro explicit', () => {
    const envelope: EventEnvelope = {
      eventId: '0195a3c8-0000-7000-8000-000000000001',
      aggregateType: 'Account',
      aggregateId: ACCOUNT_ID,
      aggregateVersion: 1,
      eventType: 'AccountOpened',
      schemaVersion: 1,
      payload: openedV1.data,
      metadata: {},
      occurredAt: '2019-01-01T00:00:00.000Z',
    };
    const upcast = bankUpcasters.upcast(envelope);
    expect(upcast.schemaVersion).toBe(2);
    expect(upcast.payload).toEqual({
      accountId: ACCOUNT_ID,
      owner: { name: 'Grace Hopper' },
      currency: 'EUR',
      dailyWithdrawalLimitCents: 20_000,
    });
    // The stored envelope is left as it was: history is never rewritten.
    expect(envelope.schemaVersion).toBe(1);
  });

  it('lets an account opened by the old release take commands', async () => {
    await aggregateSpec(Account, { upcasters: bankUpcasters })
      .given([openedV1, { type: 'MoneyDeposited', data: { amountCents: 1_000 } }])
      .when(
        command(WithdrawMoney, {
          accountId: ACCOUNT_ID,
          amountCents: 400,
          currency: 'EUR',
          bookingDate: '2025-03-14',
        }),
      )
      .thenState({
        status: 'open',
        accountId: ACCOUNT_ID,
        ownerName: 'Grace Hopper',
        currency: 'EUR',
        balanceCents: 600,
        dailyWithdrawalLimitCents: 20_000,
        withdrawnOnLastBookingDate: { bookingDate: '2025-03-14', amountCents: 400 },
        freezeReason: null,
      });
  });

  it('applies the legacy currency rule: an old account refuses dollars', async () => {
    await aggregateSpec(Account, { upcasters: bankUpcasters })
      .given([openedV1])
      .when(command(DepositMoney, { accountId: ACCOUNT_ID, amountCents: 100, currency: 'USD' }))
      .thenThrows(CurrencyMismatch);
  });

  it('fails loudly on a v1 payload without an owner string', () => {
    expect(() =>
      bankUpcasters.upcast({
        eventId: '0195a3c8-0000-7000-8000-000000000002',
        aggregateType: 'Account',
        aggregateId: ACCOUNT_ID,
        aggregateVersion: 1,
        eventType: 'AccountOpened',
        schemaVersion: 1,
        payload: { accountId: ACCOUNT_ID, dailyWithdrawalLimitCents: 0 },
        metadata: {},
        occurredAt: '2019-01-01T00:00:00.000Z',
      }),
    ).toThrow(UpcastError);
  });
});
