/**
 * Builds valid IBANs for examples, tests and benchmarks: the commands validate account ids
 * with class-validator's `IsIBAN`, which checks the ISO 13616 mod-97 check digits, so
 * made-up account numbers would be rejected.
 */

/**
 * Returns the IBAN of `countryCode` + `bban` with correct check digits.
 *
 * @example ibanOf('DE', '370400440532013000') // 'DE89370400440532013000'
 */
export function ibanOf(countryCode: string, bban: string): string {
  const rearranged = `${bban}${countryCode}00`.toUpperCase();
  // Letters count as 10..35; the remainder is taken digit by digit because the number has
  // more digits than a double holds exactly.
  let remainder = 0;
  for (const character of rearranged) {
    const value = Number.parseInt(character, 36);
    for (const digit of String(value)) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  const checkDigits = String(98 - remainder).padStart(2, '0');
  return `${countryCode.toUpperCase()}${checkDigits}${bban.toUpperCase()}`;
}

/** The German test IBAN of account number `n` at one (made-up) bank: for bulk examples. */
export function exampleIban(accountNumber: number): string {
  return ibanOf('DE', `37040044${String(accountNumber).padStart(10, '0')}`);
}
