import { describe, expect, it } from 'vitest';
import { formatLsn, maxLsn, parseLsn } from './lsn.js';

describe('LSNs', () => {
  it('parses padded and unpadded spellings to the same 64-bit number', () => {
    expect(parseLsn('00000000/016B3748')).toBe(0x16b3748n);
    expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
    expect(parseLsn('0/16b3748')).toBe(0x16b3748n);
    expect(parseLsn('1/0')).toBe(0x1_0000_0000n);
  });

  it('orders numerically where string comparison would not', () => {
    // As strings '0/9' > '0/10' and '0/FFFFFFFF' > '1/0'; as LSNs it is the other way round.
    expect(parseLsn('0/9') < parseLsn('0/10')).toBe(true);
    expect(parseLsn('0/FFFFFFFF') < parseLsn('1/0')).toBe(true);
    expect(parseLsn('00000000/0000000A') > parseLsn('0/9')).toBe(true);
  });

  it('formats like PostgreSQL and round-trips', () => {
    expect(formatLsn(0x16b3748n)).toBe('0/16B3748');
    expect(formatLsn(0x2_0000_00ffn)).toBe('2/FF');
    for (const text of ['0/0', '0/1', 'A/FFFFFFFF', 'FFFFFFFF/FFFFFFFF']) {
      expect(formatLsn(parseLsn(text))).toBe(text);
    }
  });

  it('rejects text that is not an LSN and numbers out of range', () => {
    expect(() => parseLsn('16B3748')).toThrow(TypeError);
    expect(() => parseLsn('0/123456789')).toThrow(TypeError);
    expect(() => parseLsn('')).toThrow(TypeError);
    expect(() => formatLsn(-1n)).toThrow(RangeError);
    expect(() => formatLsn(1n << 64n)).toThrow(RangeError);
  });

  it('picks the larger LSN', () => {
    expect(maxLsn(parseLsn('0/10'), parseLsn('0/9'))).toBe(16n);
    expect(maxLsn(1n, 2n)).toBe(2n);
  });
});
