import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { uuidV7 } from './ids.js';

describe('uuidV7', () => {
  it('makes valid version-7 UUIDs carrying the current millisecond', () => {
    const before = Date.now();
    const id = uuidV7();
    const after = Date.now();
    expect(validate(id)).toBe(true);
    expect(version(id)).toBe(7);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const millis = Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    // The counter may borrow a millisecond ahead after 2^32 ids; one id cannot.
    expect(millis).toBeGreaterThanOrEqual(before);
    expect(millis).toBeLessThanOrEqual(after);
  });

  it('is strictly increasing and unique across many ids in the same milliseconds, over several refills of its random pool', () => {
    const ids = Array.from({ length: 5_000 }, () => uuidV7());
    for (let index = 1; index < ids.length; index += 1) {
      expect((ids[index] as string) > (ids[index - 1] as string)).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // The last 5 bytes are random alone (no counter bits): the pool is never reused.
    expect(new Set(ids.map((id) => id.slice(-10))).size).toBe(ids.length);
  });
});
