import type { DomainEvent } from '@tributary/core';

/**
 * `AccountOpened`, schema version 2: the owner became an object (room for more owner data)
 * and the currency is explicit. Version 1 events are upcast by {@link accountUpcasters}.
 */
export type AccountOpened = DomainEvent<
  'AccountOpened',
  {
    readonly accountId: string;
    readonly owner: { readonly name: string };
    readonly currency: string;
    readonly dailyWithdrawalLimitCents: number;
  }
>;

/**
 * The payload of `AccountOpened` at schema version 1, as events written before version 2
 * still hold it: the owner was a plain string and every account was in euros.
 */
export interface AccountOpenedV1Payload {
  readonly accountId: string;
  readonly owner: string;
  readonly dailyWithdrawalLimitCents: number;
}

/** Money was paid into the account; `transferId` is set when a transfer paid it. */
export type MoneyDeposited = DomainEvent<
  'MoneyDeposited',
  { readonly amountCents: number; readonly transferId?: string }
>;

/** Money was taken out on `bookingDate`; `transferId` is set when a transfer took it. */
export type MoneyWithdrawn = DomainEvent<
  'MoneyWithdrawn',
  { readonly amountCents: number; readonly bookingDate: string; readonly transferId?: string }
>;

/** Withdrawals are blocked until the account is unfrozen; deposits still arrive. */
export type AccountFrozen = DomainEvent<'AccountFrozen', { readonly reason: string }>;

/** Withdrawals are allowed again. */
export type AccountUnfrozen = DomainEvent<'AccountUnfrozen', Record<string, never>>;

/** The account is closed for good: no further movement is accepted. */
export type AccountClosed = DomainEvent<'AccountClosed', Record<string, never>>;

/** Every event of the `Account` aggregate. */
export type AccountEvent =
  AccountOpened | MoneyDeposited | MoneyWithdrawn | AccountFrozen | AccountUnfrozen | AccountClosed;
