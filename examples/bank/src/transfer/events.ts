import type { DomainEvent } from '@tributary/core';

/** A customer asked to move money between two accounts; the process takes it from here. */
export type TransferRequested = DomainEvent<
  'TransferRequested',
  {
    readonly sourceAccountId: string;
    readonly targetAccountId: string;
    readonly amountCents: number;
    readonly currency: string;
    readonly bookingDate: string;
  }
>;

/** The money left the source and reached the target. */
export type TransferCompleted = DomainEvent<'TransferCompleted', Record<string, never>>;

/** The transfer did not happen; any money already taken from the source was refunded. */
export type TransferFailed = DomainEvent<'TransferFailed', { readonly reason: string }>;

/** Every event of the `Transfer` aggregate. */
export type TransferEvent = TransferRequested | TransferCompleted | TransferFailed;
