import { defineAggregate } from '@tributary/core';
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

/** Where an account is in its life. `unopened` is the state before its first event. */
export type AccountStatus = 'unopened' | 'open' | 'frozen' | 'closed';

/** The state of one account, folded from its events. */
export interface AccountState {
  readonly status: AccountStatus;
  readonly accountId: string;
  readonly ownerName: string;
  readonly currency: string;
  readonly balanceCents: number;
  readonly dailyWithdrawalLimitCents: number;
  /** What was withdrawn on the latest booking date: enough to check the daily limit. */
  readonly withdrawnOnLastBookingDate: {
    readonly bookingDate: string;
    readonly amountCents: number;
  };
  /** Why the account is frozen; `null` unless frozen. */
  readonly freezeReason: string | null;
}

/** The aggregate type name (stream prefix and Kafka topic suffix). */
export const ACCOUNT = 'Account';

/** The state of an account before it was opened. */
export function unopenedAccount(): AccountState {
  return {
    status: 'unopened',
    accountId: '',
    ownerName: '',
    currency: '',
    balanceCents: 0,
    dailyWithdrawalLimitCents: 0,
    withdrawnOnLastBookingDate: { bookingDate: '', amountCents: 0 },
    freezeReason: null,
  };
}

/**
 * Throws unless the account accepts money movements: it must be opened, not closed, and in
 * the command's currency. Frozen accounts pass here; withdrawals check the freeze on top.
 */
function assertAcceptsMovement(state: AccountState, accountId: string, currency: string): void {
  if (state.status === 'unopened') throw new AccountNotOpened(accountId);
  if (state.status === 'closed') throw new AccountIsClosed(accountId);
  if (state.currency !== currency) throw new CurrencyMismatch(accountId, state.currency, currency);
}

/** Throws unless the account is opened and not closed. */
function assertLive(state: AccountState, accountId: string): void {
  if (state.status === 'unopened') throw new AccountNotOpened(accountId);
  if (state.status === 'closed') throw new AccountIsClosed(accountId);
}

/** Withdrawn so far on `bookingDate` (earlier dates do not count against today's limit). */
function withdrawnOn(state: AccountState, bookingDate: string): number {
  return state.withdrawnOnLastBookingDate.bookingDate === bookingDate
    ? state.withdrawnOnLastBookingDate.amountCents
    : 0;
}

/**
 * A bank account: opened in one currency, receives deposits, pays out withdrawals within
 * its balance and daily limit, can be frozen (withdrawals blocked, deposits still
 * accepted so incoming transfers and refunds are not lost) and closed once empty.
 */
export const Account = defineAggregate<AccountState, AccountEvent>({
  type: ACCOUNT,
  initialState: unopenedAccount,
  schemaVersions: { AccountOpened: 2 },
  evolve: {
    AccountOpened: (state, data) => ({
      ...state,
      status: 'open',
      accountId: data.accountId,
      ownerName: data.owner.name,
      currency: data.currency,
      dailyWithdrawalLimitCents: data.dailyWithdrawalLimitCents,
    }),
    MoneyDeposited: (state, data) => ({
      ...state,
      balanceCents: state.balanceCents + data.amountCents,
    }),
    MoneyWithdrawn: (state, data) => ({
      ...state,
      balanceCents: state.balanceCents - data.amountCents,
      withdrawnOnLastBookingDate: {
        bookingDate: data.bookingDate,
        amountCents: withdrawnOn(state, data.bookingDate) + data.amountCents,
      },
    }),
    AccountFrozen: (state, data) => ({ ...state, status: 'frozen', freezeReason: data.reason }),
    AccountUnfrozen: (state) => ({ ...state, status: 'open', freezeReason: null }),
    AccountClosed: (state) => ({ ...state, status: 'closed' }),
  },
})
  .handles(OpenAccount, {
    aggregateId: (command) => command.accountId,
    decide: (command, state) => {
      if (state.status !== 'unopened') throw new AccountAlreadyOpened(command.accountId);
      return {
        type: 'AccountOpened',
        data: {
          accountId: command.accountId,
          owner: { name: command.ownerName },
          currency: command.currency,
          dailyWithdrawalLimitCents: command.dailyWithdrawalLimitCents,
        },
      };
    },
  })
  .handles(DepositMoney, {
    aggregateId: (command) => command.accountId,
    decide: (command, state) => {
      assertAcceptsMovement(state, command.accountId, command.currency);
      return {
        type: 'MoneyDeposited',
        data: {
          amountCents: command.amountCents,
          ...(command.transferId === undefined ? {} : { transferId: command.transferId }),
        },
      };
    },
  })
  .handles(WithdrawMoney, {
    aggregateId: (command) => command.accountId,
    decide: (command, state) => {
      assertAcceptsMovement(state, command.accountId, command.currency);
      if (state.status === 'frozen') {
        throw new AccountIsFrozen(command.accountId, state.freezeReason ?? 'no reason given');
      }
      if (command.amountCents > state.balanceCents) {
        throw new InsufficientFunds(
          command.accountId,
          state.balanceCents,
          command.amountCents,
          state.currency,
        );
      }
      const alreadyWithdrawn = withdrawnOn(state, command.bookingDate);
      if (alreadyWithdrawn + command.amountCents > state.dailyWithdrawalLimitCents) {
        throw new DailyWithdrawalLimitExceeded(
          command.accountId,
          command.bookingDate,
          state.dailyWithdrawalLimitCents,
          alreadyWithdrawn,
          command.amountCents,
          state.currency,
        );
      }
      return {
        type: 'MoneyWithdrawn',
        data: {
          amountCents: command.amountCents,
          bookingDate: command.bookingDate,
          ...(command.transferId === undefined ? {} : { transferId: command.transferId }),
        },
      };
    },
  })
  .handles(FreezeAccount, {
    aggregateId: (command) => command.accountId,
    decide: (command, state) => {
      assertLive(state, command.accountId);
      if (state.status === 'frozen') {
        throw new AccountIsFrozen(command.accountId, state.freezeReason ?? 'no reason given');
      }
      return { type: 'AccountFrozen', data: { reason: command.reason } };
    },
  })
  .handles(UnfreezeAccount, {
    aggregateId: (command) => command.accountId,
    decide: (command, state) => {
      assertLive(state, command.accountId);
      if (state.status !== 'frozen') throw new AccountNotFrozen(command.accountId);
      return { type: 'AccountUnfrozen', data: {} };
    },
  })
  .handles(CloseAccount, {
    aggregateId: (command) => command.accountId,
    decide: (command, state) => {
      assertLive(state, command.accountId);
      if (state.balanceCents !== 0) {
        throw new BalanceNotZero(command.accountId, state.balanceCents, state.currency);
      }
      return { type: 'AccountClosed', data: {} };
    },
  });
