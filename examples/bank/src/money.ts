/**
 * Money is held as integer cents everywhere (commands, events, state): binary floating
 * point cannot represent 0.10 exactly, and sums of such amounts drift.
 */

/** Largest amount one command may move: 1,000,000.00 in the account's currency. */
export const MAX_AMOUNT_CENTS = 100_000_000;

/** Largest daily withdrawal limit an account may be opened with: 50,000.00. */
export const MAX_DAILY_WITHDRAWAL_LIMIT_CENTS = 5_000_000;

/** Formats integer cents for people, e.g. `EUR 1,234.56` (no locale-dependent symbols). */
export function formatCents(cents: number, currency: string): string {
  const sign = cents < 0 ? '-' : '';
  const absolute = Math.abs(cents);
  const units = Math.floor(absolute / 100).toLocaleString('en-US');
  const fraction = String(absolute % 100).padStart(2, '0');
  return `${currency} ${sign}${units}.${fraction}`;
}
