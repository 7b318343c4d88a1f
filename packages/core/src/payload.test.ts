import { describe, expect, it } from 'vitest';
import { isTributaryError } from './errors.js';
import { assertJsonPayload, checkedJsonPayload } from './payload.js';
import { JsonSerializer } from './serializer.js';

describe('assertJsonPayload', () => {
  it('accepts JSON values and returns their UTF-8 size', () => {
    expect(assertJsonPayload({ name: 'Zoë', n: [1, 2.5, null], ok: true }, 'payload')).toBe(
      Buffer.byteLength(JSON.stringify({ name: 'Zoë', n: [1, 2.5, null], ok: true })),
    );
    expect(assertJsonPayload({ optional: undefined }, 'payload')).toBe(2);
  });

  it.each([
    ['a NUL in a string', { text: 'a\u0000' }, '$.text'],
    ['a NUL in a key', { ['k\u0000']: 1 }, '$.<key>'],
    ['an unsafe integer', { n: 2 ** 53 }, '$.n'],
    ['Infinity', { n: Number.POSITIVE_INFINITY }, '$.n'],
    ['a bigint', { n: 1n }, '$.n'],
    ['a Map', { m: new Map() }, '$.m'],
    ['a function inside an array', [() => 1], '$[0]'],
    ['a lone high surrogate deep inside', { a: [{ b: 'x\ud83dy' }] }, '$.a[0].b'],
    ['a lone low surrogate in a key', { ['k\ude00']: 1 }, '$.<key>'],
  ])('rejects %s and names its path', (_description, value, path) => {
    let error: unknown;
    try {
      assertJsonPayload(value, 'payload');
    } catch (caught) {
      error = caught;
    }
    expect(isTributaryError(error, 'INVALID_EVENT')).toBe(true);
    expect((error as Error).message).toContain(path);
  });

  it('accepts a surrogate pair (an emoji) in strings and keys', () => {
    const value = { ['k😀']: 'a 😀 b' };
    expect(assertJsonPayload(value, 'payload')).toBe(Buffer.byteLength(JSON.stringify(value)));
  });

  it('rejects a circular structure', () => {
    const value: Record<string, unknown> = {};
    value.self = value;
    expect(() => assertJsonPayload(value, 'payload')).toThrow(/circular/);
  });

  it('rejects a payload over the byte limit', () => {
    expect(() => assertJsonPayload({ s: 'x'.repeat(100) }, 'payload', 50)).toThrow(
      /over the limit of 50 bytes/,
    );
  });
});

describe('checkedJsonPayload', () => {
  it('returns the JSON text and its UTF-8 size, counted for 1-, 2-, 3- and 4-byte characters', () => {
    for (const value of [
      { s: 'plain' },
      { s: 'Zoë ß', ké: ['ü'] },
      { s: '中文 €', n: 1.5e-7 },
      { s: '😀 a 𝄞' },
      'x'.repeat(1000),
    ]) {
      const { json, bytes } = checkedJsonPayload(value, 'payload');
      expect(json).toBe(JSON.stringify(value));
      expect(bytes).toBe(Buffer.byteLength(json, 'utf8'));
    }
  });

  it('measures a text that may be over the limit exactly, at the limit and one byte over', () => {
    const value = { s: '€'.repeat(20) }; // 20 × 3 bytes + 8 bytes of JSON around it
    expect(checkedJsonPayload(value, 'payload', 68).bytes).toBe(68);
    expect(() => checkedJsonPayload(value, 'payload', 67)).toThrow(
      /68 bytes, over the limit of 67/,
    );
  });
});

describe('JsonSerializer', () => {
  it('round-trips JSON values', () => {
    const serializer = new JsonSerializer();
    const value = { a: 1, b: ['x', { c: null }] };
    expect(serializer.deserialize(serializer.serialize(value))).toEqual(value);
  });

  it('rejects malformed bytes with a SerializationError', () => {
    const serializer = new JsonSerializer();
    expect(() => serializer.deserialize(new TextEncoder().encode('{"a":'))).toThrow(
      /Malformed JSON/,
    );
    expect(() => serializer.deserialize(new Uint8Array([0xff, 0xfe]))).toThrow(/Malformed JSON/);
  });

  it('refuses to serialize values that would not survive the round trip', () => {
    expect(() => new JsonSerializer().serialize({ n: Number.NaN })).toThrow(
      expect.objectContaining({ code: 'SERIALIZATION_FAILED' }) as Error,
    );
  });
});
