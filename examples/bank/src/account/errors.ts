import { DomainRuleViolation } from '@tributary/core';
import { formatCents } from '../money.js';

/** An account with this id was opened already. */
export class AccountAlreadyOpened extends DomainRuleViolation {
  constructor(accountId: string) {
    super('account-already-opened', `Account ${accountId} is already open`, { accountId });
  }
}

/** The command needs an open account, but none was opened under this id. */
export class AccountNotOpened extends DomainRuleViolation {
  constructor(accountId: string) {
    super('account-not-opened', `Account ${accountId} has not been opened`, { accountId });
  }
}

/** The account is closed: nothing may happen to it any more. */
export class AccountIsClosed extends DomainRuleViolation {
  constructor(accountId: string) {
    super('account-closed', `Account ${accountId} is closed`, { accountId });
  }
}

/** The account is frozen: withdrawals (and a second freeze) are refused. */
export class AccountIsFrozen extends DomainRuleViolation {
  constructor(accountId: string, reason: string) {
    super('account-frozen', `Account ${accountId} is frozen (${reason})`, { accountId, reason });
  }
}

/** Unfreezing an account that is not frozen is a mistake worth reporting. */
export class AccountNotFrozen extends DomainRuleViolation {
  constructor(accountId: string) {
    super('account-not-frozen', `Account ${accountId} is not frozen`, { accountId });
  }
}

/** The command's currency differs from the account's; this bank does not convert. */
export class CurrencyMismatch extends DomainRuleViolation {
  constructor(accountId: string, accountCurrency: string, commandCurrency: string) {
    super(
      'currency-mismatch',
      `Account ${accountId} holds ${accountCurrency}, not ${commandCurrency}`,
      { accountId, accountCurrency, commandCurrency },
    );
  }
}

/** A withdrawal larger than the balance; overdrafts are not offered. */
export class InsufficientFunds extends DomainRuleViolation {
  constructor(accountId: string, balanceCents: number, requestedCents: number, currency: string) {
    super(
      'insufficient-funds',
      `Account ${accountId} has ${formatCents(balanceCents, currency)}, cannot withdraw ${formatCents(requestedCents, currency)}`,
      { accountId, balanceCents, requestedCents },
    );
  }
}

/** A withdrawal would take the day's total over the account's daily limit. */
export class DailyWithdrawalLimitExceeded extends DomainRuleViolation {
  constructor(
    accountId: string,
    bookingDate: string,
    limitCents: number,
    alreadyWithdrawnCents: number,
    requestedCents: number,
    currency: string,
  ) {
    super(
      'daily-withdrawal-limit-exceeded',
      `Account ${accountId} may withdraw ${formatCents(limitCents, currency)} per day; ` +
        `${formatCents(alreadyWithdrawnCents, currency)} already withdrawn on ${bookingDate}, ` +
        `${formatCents(requestedCents, currency)} more requested`,
      { accountId, bookingDate, limitCents, alreadyWithdrawnCents, requestedCents },
    );
  }
}

/** Only an empty account can be closed, so no money disappears with it. */
export class BalanceNotZero extends DomainRuleViolation {
  constructor(accountId: string, balanceCents: number, currency: string) {
    super(
      'balance-not-zero',
      `Account ${accountId} still holds ${formatCents(balanceCents, currency)}; withdraw or transfer it before closing`,
      { accountId, balanceCents },
    );
  }
}
