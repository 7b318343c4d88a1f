import { command, ValidationError } from '@tributary/core';
import { aggregateSpec, SpecificationError } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { Account } from './account/account.js';
import { DepositMoney, WithdrawMoney } from './account/commands.js';
import { AccountIsFrozen, InsufficientFunds } from './account/errors.js';
import type { AccountEvent } from './account/events.js';
import { ibanOf } from './iban.js';

/**
 * The specification harness must fail, and fail readably, when an expectation is wrong:
 * a harness that passes everything would make every spec above worthless.
 */
const ACCOUNT_ID = ibanOf('DE', '370400440532013000');
const opened: AccountEvent = {
  type: 'AccountOpened',
  data: {
    accountId: ACCOUNT_ID,
    owner: { name: 'Ann' },
    currency: 'EUR',
    dailyWithdrawalLimitCents: 50_000,
  },
};
const depositOf = (amountCents: number): DepositMoney =>
  command(DepositMoney, { accountId: ACCOUNT_ID, amountCents, currency: 'EUR' });

/** Runs a spec that must fail and returns its error. */
async function failureOf(run: Promise<void>): Promise<SpecificationError> {
  const error: unknown = await run.then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  expect(error).toBeInstanceOf(SpecificationError);
  return error as SpecificationError;
}

describe('the given/when/then harness', () => {
  it('fails a wrong expected event, showing the expected and the actual amount', async () => {
    const error = await failureOf(
      aggregateSpec(Account)
        .given([opened])
        .when(depositOf(12_345))
        .then([{ type: 'MoneyDeposited', data: { amountCents: 54_321 } }]),
    );
    expect(error.message).toContain('Account when DepositMoney: the produced events differ');
    expect(error.message).toContain('12345');
    expect(error.message).toContain('54321');
  });

  it('fails a wrong expected event type, naming both types', async () => {
    const error = await failureOf(
      aggregateSpec(Account)
        .given([opened])
        .when(depositOf(100))
        .then([{ type: 'MoneyWithdrawn', data: { amountCents: 100, bookingDate: '2025-03-14' } }]),
    );
    expect(error.message).toContain('MoneyDeposited');
    expect(error.message).toContain('MoneyWithdrawn');
  });

  it('fails thenThrows with the wrong error class, naming the expected class and the actual error', async () => {
    const error = await failureOf(
      aggregateSpec(Account)
        .given([opened])
        .when(
          command(WithdrawMoney, {
            accountId: ACCOUNT_ID,
            amountCents: 100,
            currency: 'EUR',
            bookingDate: '2025-03-14',
          }),
        )
        .thenThrows(AccountIsFrozen),
    );
    expect(error.message).toContain('expected AccountIsFrozen');
    expect(error.message).toContain('InsufficientFunds');
    expect(error.message).toContain('cannot withdraw EUR 1.00');
  });

  it('fails thenThrows when the command succeeds, showing the events it produced', async () => {
    const error = await failureOf(
      aggregateSpec(Account).given([opened]).when(depositOf(777)).thenThrows(InsufficientFunds),
    );
    expect(error.message).toContain('expected InsufficientFunds, but the command produced');
    expect(error.message).toContain('777');
  });

  it('fails then() when the command is rejected, showing the validation issues', async () => {
    const error = await failureOf(
      aggregateSpec(Account)
        .given([opened])
        .when(depositOf(-1))
        .then([{ type: 'MoneyDeposited', data: { amountCents: -1 } }]),
    );
    expect(error.message).toContain('expected events, but the command was rejected');
    expect(error.message).toContain('ValidationError');
    expect(error.message).toContain('amountCents');
  });

  it('fails a wrong expected state, showing the differing balance', async () => {
    const error = await failureOf(
      aggregateSpec(Account)
        .given([opened])
        .when(depositOf(500))
        .thenState({
          status: 'open',
          accountId: ACCOUNT_ID,
          ownerName: 'Ann',
          currency: 'EUR',
          balanceCents: 5_000,
          dailyWithdrawalLimitCents: 50_000,
          withdrawnOnLastBookingDate: { bookingDate: '', amountCents: 0 },
          freezeReason: null,
        }),
    );
    expect(error.message).toContain('the resulting state differs');
    expect(error.message).toContain('balanceCents: 500');
    expect(error.message).toContain('balanceCents: 5000');
  });

  it('propagates a failing check of thenThrows', async () => {
    await expect(
      aggregateSpec(Account)
        .given([opened])
        .when(depositOf(0))
        .thenThrows(ValidationError, (error) => {
          expect(error.issues.map((issue) => issue.rule)).toEqual(['isInt']);
        }),
    ).rejects.toThrow(/isPositive/);
  });
});
