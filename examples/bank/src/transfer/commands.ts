import {
  IsIBAN,
  IsInt,
  IsISO4217CurrencyCode,
  IsISO8601,
  IsNotEmpty,
  IsPositive,
  IsString,
  Matches,
  Max,
  MaxLength,
} from 'class-validator';
import { BOOKING_DATE_PATTERN, TRANSFER_ID_PATTERN } from '../account/commands.js';
import { MAX_AMOUNT_CENTS } from '../money.js';

/** Asks to move money from one account to another of the same currency. */
export class RequestTransfer {
  /** Chosen by the client, so a retried request cannot create a second transfer. */
  @Matches(TRANSFER_ID_PATTERN)
  transferId!: string;

  @IsIBAN()
  sourceAccountId!: string;

  @IsIBAN()
  targetAccountId!: string;

  @IsInt()
  @IsPositive()
  @Max(MAX_AMOUNT_CENTS)
  amountCents!: number;

  @IsISO4217CurrencyCode()
  currency!: string;

  @Matches(BOOKING_DATE_PATTERN)
  @IsISO8601({ strict: true })
  bookingDate!: string;
}

/** Records that both legs of a transfer were booked. Sent by the transfer process. */
export class CompleteTransfer {
  @Matches(TRANSFER_ID_PATTERN)
  transferId!: string;
}

/** Records that a transfer could not be made, and why. Sent by the transfer process. */
export class FailTransfer {
  @Matches(TRANSFER_ID_PATTERN)
  transferId!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  reason!: string;
}
