import { describe, expect, it } from 'vitest';
import { crashRunSize, isLongCrashRun } from './crash-run.js';

describe('crash run length', () => {
  it('is short unless TRIBUTARY_CRASH_LONG=1', () => {
    expect(isLongCrashRun({})).toBe(false);
    expect(isLongCrashRun({ TRIBUTARY_CRASH_LONG: '0' })).toBe(false);
    expect(isLongCrashRun({ TRIBUTARY_CRASH_LONG: '1' })).toBe(true);
    expect(crashRunSize({ short: 4, long: 14 }, {})).toBe(4);
    expect(crashRunSize({ short: 4, long: 14 }, { TRIBUTARY_CRASH_LONG: '1' })).toBe(14);
  });

  it('refuses a value it does not know instead of running the short suite', () => {
    expect(() => isLongCrashRun({ TRIBUTARY_CRASH_LONG: 'yes' })).toThrow(
      /TRIBUTARY_CRASH_LONG must be 1 .* not "yes"/,
    );
  });
});
