import {
  IsIBAN,
  IsInt,
  IsISO4217CurrencyCode,
  IsISO8601,
  IsNotEmpty,
  IsOptional,
  IsPositive,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { MAX_AMOUNT_CENTS, MAX_DAILY_WITHDRAWAL_LIMIT_CENTS } from '../money.js';

/** Transfer ids: `tr-` then lower-case letters, digits and dashes (readable in logs). */
export const TRANSFER_ID_PATTERN = /^tr-[a-z0-9-]{1,40}$/;

/** A calendar date without time, `YYYY-MM-DD`; `IsISO8601` alone would accept timestamps. */
export const BOOKING_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** Opens a new account for one owner in one currency. */
export class OpenAccount {
  /** The account's IBAN; it is also the aggregate id. */
  @IsIBAN()
  accountId!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  ownerName!: string;

  @IsISO4217CurrencyCode()
  currency!: string;

  /** Most that may be withdrawn per booking date, in cents. */
  @IsInt()
  @Min(0)
  @Max(MAX_DAILY_WITHDRAWAL_LIMIT_CENTS)
  dailyWithdrawalLimitCents!: number;
}

/** Pays money into an account. */
export class DepositMoney {
  @IsIBAN()
  accountId!: string;

  /** Integer cents: a positive integer is exactly "positive with at most 2 decimals". */
  @IsInt()
  @IsPositive()
  @Max(MAX_AMOUNT_CENTS)
  amountCents!: number;

  /** Must be the account's currency; this bank does not convert. */
  @IsISO4217CurrencyCode()
  currency!: string;

  /** Set when the deposit is one leg of a transfer. */
  @IsOptional()
  @Matches(TRANSFER_ID_PATTERN)
  transferId?: string;
}

/** Takes money out of an account, within its balance and daily limit. */
export class WithdrawMoney {
  @IsIBAN()
  accountId!: string;

  @IsInt()
  @IsPositive()
  @Max(MAX_AMOUNT_CENTS)
  amountCents!: number;

  @IsISO4217CurrencyCode()
  currency!: string;

  /**
   * The day the withdrawal counts against the daily limit. It comes with the command
   * because `decide` must be pure: reading the clock there would make replays disagree.
   */
  @Matches(BOOKING_DATE_PATTERN)
  @IsISO8601({ strict: true })
  bookingDate!: string;

  /** Set when the withdrawal is one leg of a transfer. */
  @IsOptional()
  @Matches(TRANSFER_ID_PATTERN)
  transferId?: string;
}

/** Blocks withdrawals, e.g. on suspected fraud. */
export class FreezeAccount {
  @IsIBAN()
  accountId!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  reason!: string;
}

/** Lifts a freeze. */
export class UnfreezeAccount {
  @IsIBAN()
  accountId!: string;
}

/** Closes an account whose balance is zero. */
export class CloseAccount {
  @IsIBAN()
  accountId!: string;
}
