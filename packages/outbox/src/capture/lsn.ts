/**
 * PostgreSQL log sequence numbers as 64-bit integers.
 *
 * LSNs reach us as text in two spellings: pg-logical-replication's parser pads both halves
 * to eight hex digits (`00000000/016B3748`), while the LSN it passes with `data` and
 * keepalive events is not padded (`0/16B3748`), and SQL prints `0/16B3748`. Comparing such
 * strings is wrong (`'0/9' > '0/10'`), so every comparison goes through {@link parseLsn}.
 */

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** The zero LSN (`0/0`), which PostgreSQL uses for "invalid" / "none". */
export const ZERO_LSN = 0n;

/**
 * Parses `X/Y` (padded or not, any case) into a 64-bit LSN.
 *
 * @throws TypeError when `text` is not an LSN.
 */
export function parseLsn(text: string): bigint {
  const match = LSN_TEXT.exec(text);
  if (match === null) throw new TypeError(`Not a PostgreSQL LSN: ${JSON.stringify(text)}`);
  const [, high = '0', low = '0'] = match;
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** Formats an LSN the way PostgreSQL prints it: upper-case hex halves without padding (`0/16B3748`). */
export function formatLsn(lsn: bigint): string {
  if (lsn < 0n || lsn > 0xffff_ffff_ffff_ffffn) throw new RangeError(`LSN out of range: ${lsn}`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** The larger of two LSNs. */
export function maxLsn(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
