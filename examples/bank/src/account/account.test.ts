// One file on purpose: the account aggregate's given/when/then specification, one describe
// per command, reads as the aggregate's rule book.
import type { DomainRuleViolation } from '@tributary/core';
import { command, ValidationError } from '@tributary/core';
import { aggregateSpec } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { ibanOf } from '../iban.js';
import { Account, type AccountState } from './account.js';
import {
  CloseAccount,
  DepositMoney,
  FreezeAccount,
  OpenAccount,
  UnfreezeAccount,
  WithdrawMoney,
} from './commands.js';
import {
  AccountAlreadyOpened,
  AccountIsClosed,
  AccountIsFrozen,
  AccountNotFrozen,
  AccountNotOpened,
  BalanceNotZero,
  CurrencyMismatch,
  DailyWithdrawalLimitExceeded,
  InsufficientFunds,
} from './errors.js';
import type { AccountEvent } from './events.js';
import { bankUpcasters } from './upcasters.js';

const ACCOUNT_ID = ibanOf('DE', '370400440532013000');
const spec = aggregateSpec(Account, { upcasters: bankUpcasters });

const opened: AccountEvent = {
  type: 'AccountOpened',
  data: {
    accountId: ACCOUNT_ID,
    owner: { name: 'Ann Lovelace' },
    currency: 'EUR',
    dailyWithdrawalLimitCents: 50_000,
  },
};
const deposited = (amountCents: number): AccountEvent => ({
  type: 'MoneyDeposited',
  data: { amountCents },
});
const withdrawn = (amountCents: number, bookingDate = '2025-03-14'): AccountEvent => ({
  type: 'MoneyWithdrawn',
  data: { amountCents, bookingDate },
});
const frozen: AccountEvent = { type: 'AccountFrozen', data: { reason: 'suspected fraud' } };
const closed: AccountEvent = { type: 'AccountClosed', data: {} };

const withdraw = (amountCents: number, bookingDate = '2025-03-14'): WithdrawMoney =>
  command(WithdrawMoney, { accountId: ACCOUNT_ID, amountCents, currency: 'EUR', bookingDate });
const deposit = (amountCents: number, currency = 'EUR'): DepositMoney =>
  command(DepositMoney, { accountId: ACCOUNT_ID, amountCents, currency });

/** The failed (field, rule) pairs of a validation error, sorted so order does not matter. */
const failedRules = (error: ValidationError): string[] =>
  error.issues.map((issue) => `${issue.field}:${issue.rule}`).sort();

/** Asserts the rule id of a violation, on top of its class. */
const hasRule =
  (rule: string) =>
  (error: DomainRuleViolation): void => {
    expect(error.rule).toBe(rule);
    expect(error.code).toBe('DOMAIN_RULE_VIOLATION');
  };

describe('OpenAccount', () => {
  const open = command(OpenAccount, {
    accountId: ACCOUNT_ID,
    ownerName: 'Ann Lovelace',
    currency: 'EUR',
    dailyWithdrawalLimitCents: 50_000,
  });

  it('opens an account with its owner, currency and daily limit', async () => {
    await spec.when(open).then([opened]);
  });

  it('results in an open, empty account', async () => {
    await spec.when(open).thenState({
      status: 'open',
      accountId: ACCOUNT_ID,
      ownerName: 'Ann Lovelace',
      currency: 'EUR',
      balanceCents: 0,
      dailyWithdrawalLimitCents: 50_000,
      withdrawnOnLastBookingDate: { bookingDate: '', amountCents: 0 },
      freezeReason: null,
    } satisfies AccountState);
  });

  it('refuses to open the same account twice', async () => {
    await spec
      .given([opened])
      .when(open)
      .thenThrows(AccountAlreadyOpened, hasRule('account-already-opened'));
  });

  it('rejects an invalid IBAN, a blank owner, an unknown currency and a negative limit', async () => {
    await spec
      .when(
        command(OpenAccount, {
          accountId: 'DE00370400440532013000',
          ownerName: '',
          currency: 'EURO',
          dailyWithdrawalLimitCents: -1,
        }),
      )
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual([
          'accountId:isIBAN',
          'currency:isISO4217CurrencyCode',
          'dailyWithdrawalLimitCents:min',
          'ownerName:isNotEmpty',
        ]);
      });
  });

  it('rejects an owner name over 100 characters and a fractional limit', async () => {
    await spec
      .when(
        command(OpenAccount, {
          accountId: ACCOUNT_ID,
          ownerName: 'A'.repeat(101),
          currency: 'EUR',
          dailyWithdrawalLimitCents: 100.5,
        }),
      )
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual([
          'dailyWithdrawalLimitCents:isInt',
          'ownerName:maxLength',
        ]);
        expect(error.message).toContain('ownerName');
      });
  });

  it('rejects fields the command does not declare', async () => {
    const withExtraField = Object.assign(
      command(OpenAccount, {
        accountId: ACCOUNT_ID,
        ownerName: 'Ann',
        currency: 'EUR',
        dailyWithdrawalLimitCents: 0,
      }),
      { overdraftCents: 1_000 },
    );
    await spec.when(withExtraField).thenThrows(ValidationError, (error) => {
      expect(failedRules(error)).toEqual(['overdraftCents:whitelistValidation']);
    });
  });
});

describe('DepositMoney', () => {
  it('credits the amount in cents', async () => {
    await spec
      .given([opened])
      .when(deposit(12_345))
      .then([deposited(12_345)]);
  });

  it('records the transfer a deposit belongs to', async () => {
    await spec
      .given([opened])
      .when(
        command(DepositMoney, {
          accountId: ACCOUNT_ID,
          amountCents: 500,
          currency: 'EUR',
          transferId: 'tr-1',
        }),
      )
      .then([{ type: 'MoneyDeposited', data: { amountCents: 500, transferId: 'tr-1' } }]);
  });

  it('adds up deposits in the balance', async () => {
    await spec
      .given([opened, deposited(1_000)])
      .when(deposit(250))
      .thenState({
        status: 'open',
        accountId: ACCOUNT_ID,
        ownerName: 'Ann Lovelace',
        currency: 'EUR',
        balanceCents: 1_250,
        dailyWithdrawalLimitCents: 50_000,
        withdrawnOnLastBookingDate: { bookingDate: '', amountCents: 0 },
        freezeReason: null,
      });
  });

  it('accepts deposits on a frozen account, so incoming transfers and refunds are not lost', async () => {
    await spec
      .given([opened, frozen])
      .when(deposit(100))
      .then([deposited(100)]);
  });

  it('refuses an account that was never opened', async () => {
    await spec.when(deposit(100)).thenThrows(AccountNotOpened, hasRule('account-not-opened'));
  });

  it('refuses a closed account', async () => {
    await spec
      .given([opened, closed])
      .when(deposit(100))
      .thenThrows(AccountIsClosed, hasRule('account-closed'));
  });

  it('refuses another currency than the account’s', async () => {
    await spec
      .given([opened])
      .when(deposit(100, 'USD'))
      .thenThrows(CurrencyMismatch, (error) => {
        expect(error.rule).toBe('currency-mismatch');
        expect(error.message).toBe(`Account ${ACCOUNT_ID} holds EUR, not USD`);
      });
  });

  it('rejects zero, fractional cents, amounts over the maximum and a malformed transfer id', async () => {
    await spec
      .given([opened])
      .when(deposit(0))
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['amountCents:isPositive']);
      });
    await spec
      .given([opened])
      .when(deposit(10.5))
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['amountCents:isInt']);
      });
    await spec
      .given([opened])
      .when(
        command(DepositMoney, {
          accountId: ACCOUNT_ID,
          amountCents: 100_000_001,
          currency: 'EUR',
          transferId: 'TR 1',
        }),
      )
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['amountCents:max', 'transferId:matches']);
      });
  });
});

describe('WithdrawMoney', () => {
  it('debits the amount on its booking date', async () => {
    await spec
      .given([opened, deposited(10_000)])
      .when(withdraw(2_500))
      .then([withdrawn(2_500)]);
  });

  it('may withdraw the whole balance', async () => {
    await spec
      .given([opened, deposited(10_000)])
      .when(withdraw(10_000))
      .then([withdrawn(10_000)]);
  });

  it('refuses more than the balance', async () => {
    await spec
      .given([opened, deposited(1_000)])
      .when(withdraw(1_001))
      .thenThrows(InsufficientFunds, (error) => {
        expect(error.rule).toBe('insufficient-funds');
        expect(error.message).toBe(
          `Account ${ACCOUNT_ID} has EUR 10.00, cannot withdraw EUR 10.01`,
        );
        expect(error.details).toMatchObject({ balanceCents: 1_000, requestedCents: 1_001 });
      });
  });

  it('refuses to go over the daily limit on the same booking date', async () => {
    await spec
      .given([opened, deposited(100_000), withdrawn(30_000)])
      .when(withdraw(20_001))
      .thenThrows(DailyWithdrawalLimitExceeded, (error) => {
        expect(error.rule).toBe('daily-withdrawal-limit-exceeded');
        expect(error.details).toMatchObject({ limitCents: 50_000, alreadyWithdrawnCents: 30_000 });
      });
  });

  it('starts a fresh daily limit on the next booking date', async () => {
    await spec
      .given([opened, deposited(100_000), withdrawn(50_000, '2025-03-14')])
      .when(withdraw(50_000, '2025-03-15'))
      .then([withdrawn(50_000, '2025-03-15')]);
  });

  it('tracks what was withdrawn on the latest booking date', async () => {
    await spec
      .given([opened, deposited(100_000), withdrawn(10_000)])
      .when(withdraw(5_000))
      .thenState({
        status: 'open',
        accountId: ACCOUNT_ID,
        ownerName: 'Ann Lovelace',
        currency: 'EUR',
        balanceCents: 85_000,
        dailyWithdrawalLimitCents: 50_000,
        withdrawnOnLastBookingDate: { bookingDate: '2025-03-14', amountCents: 15_000 },
        freezeReason: null,
      });
  });

  it('refuses a frozen account', async () => {
    await spec
      .given([opened, deposited(1_000), frozen])
      .when(withdraw(100))
      .thenThrows(AccountIsFrozen, (error) => {
        expect(error.rule).toBe('account-frozen');
        expect(error.message).toContain('suspected fraud');
      });
  });

  it('refuses a closed account, an unopened account and another currency', async () => {
    await spec.given([opened, closed]).when(withdraw(1)).thenThrows(AccountIsClosed);
    await spec.when(withdraw(1)).thenThrows(AccountNotOpened);
    await spec
      .given([opened, deposited(1_000)])
      .when(
        command(WithdrawMoney, {
          accountId: ACCOUNT_ID,
          amountCents: 1,
          currency: 'CHF',
          bookingDate: '2025-03-14',
        }),
      )
      .thenThrows(CurrencyMismatch);
  });

  it('rejects a booking date that is not a calendar date', async () => {
    await spec
      .given([opened])
      .when(withdraw(100, '2025-02-30'))
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['bookingDate:isIso8601']);
      });
    await spec
      .given([opened])
      .when(withdraw(100, '2025-03-14T10:00:00Z'))
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['bookingDate:matches']);
      });
  });

  it('rejects a negative amount and an account id that is not an IBAN', async () => {
    await spec
      .when(
        command(WithdrawMoney, {
          accountId: 'acc-1',
          amountCents: -5,
          currency: 'EUR',
          bookingDate: '2025-03-14',
        }),
      )
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['accountId:isIBAN', 'amountCents:isPositive']);
      });
  });
});

describe('FreezeAccount', () => {
  const freeze = command(FreezeAccount, { accountId: ACCOUNT_ID, reason: 'suspected fraud' });

  it('freezes an open account with a reason', async () => {
    await spec.given([opened]).when(freeze).then([frozen]);
  });

  it('refuses to freeze twice', async () => {
    await spec
      .given([opened, frozen])
      .when(freeze)
      .thenThrows(AccountIsFrozen, hasRule('account-frozen'));
  });

  it('refuses a closed or unopened account', async () => {
    await spec.given([opened, closed]).when(freeze).thenThrows(AccountIsClosed);
    await spec.when(freeze).thenThrows(AccountNotOpened);
  });

  it('requires a reason of at most 200 characters', async () => {
    await spec
      .given([opened])
      .when(command(FreezeAccount, { accountId: ACCOUNT_ID, reason: '' }))
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['reason:isNotEmpty']);
      });
    await spec
      .given([opened])
      .when(command(FreezeAccount, { accountId: ACCOUNT_ID, reason: 'x'.repeat(201) }))
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['reason:maxLength']);
      });
  });
});

describe('UnfreezeAccount', () => {
  const unfreeze = command(UnfreezeAccount, { accountId: ACCOUNT_ID });

  it('unfreezes a frozen account', async () => {
    await spec
      .given([opened, frozen])
      .when(unfreeze)
      .then([{ type: 'AccountUnfrozen', data: {} }]);
  });

  it('allows withdrawals again', async () => {
    await spec
      .given([opened, deposited(1_000), frozen, { type: 'AccountUnfrozen', data: {} }])
      .when(withdraw(100))
      .then([withdrawn(100)]);
  });

  it('refuses an account that is not frozen', async () => {
    await spec
      .given([opened])
      .when(unfreeze)
      .thenThrows(AccountNotFrozen, hasRule('account-not-frozen'));
  });

  it('refuses a closed or unopened account', async () => {
    await spec.given([opened, closed]).when(unfreeze).thenThrows(AccountIsClosed);
    await spec.when(unfreeze).thenThrows(AccountNotOpened);
  });

  it('rejects an account id that is not an IBAN', async () => {
    await spec
      .when(command(UnfreezeAccount, { accountId: '' }))
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['accountId:isIBAN']);
      });
  });
});

describe('CloseAccount', () => {
  const close = command(CloseAccount, { accountId: ACCOUNT_ID });

  it('closes an empty account', async () => {
    await spec
      .given([opened, deposited(500), withdrawn(500)])
      .when(close)
      .then([closed]);
  });

  it('refuses to close an account that still holds money', async () => {
    await spec
      .given([opened, deposited(500)])
      .when(close)
      .thenThrows(BalanceNotZero, (error) => {
        expect(error.rule).toBe('balance-not-zero');
        expect(error.message).toContain('EUR 5.00');
      });
  });

  it('refuses to close twice, or an unopened account', async () => {
    await spec.given([opened, closed]).when(close).thenThrows(AccountIsClosed);
    await spec.when(close).thenThrows(AccountNotOpened);
  });

  it('rejects an account id that is not an IBAN', async () => {
    await spec
      .when(command(CloseAccount, { accountId: 'DE89 3704' }))
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['accountId:isIBAN']);
      });
  });
});
