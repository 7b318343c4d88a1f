import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from './tracing.js';

describe('traceparent', () => {
  it('parses and formats the W3C version-00 layout', () => {
    const value = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const parsed = parseTraceparent(value);
    expect(parsed).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      flags: 1,
    });
    expect(parsed && formatTraceparent(parsed)).toBe(value);
  });

  it('refuses malformed values and the all-zero ids', () => {
    for (const value of [
      undefined,
      '',
      '00-abc-def-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    ]) {
      expect(parseTraceparent(value)).toBeUndefined();
    }
  });
});
