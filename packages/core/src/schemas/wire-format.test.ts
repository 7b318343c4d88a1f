import { describe, expect, it } from 'vitest';
import { isTributaryError } from '../errors.js';
import { decodeWireFormat, encodeWireFormat, isWireFormat } from './wire-format.js';

describe('the Confluent wire format', () => {
  it('writes magic byte 0, the schema id big-endian, then the payload', () => {
    const encoded = encodeWireFormat(0x01020304, new Uint8Array([9, 8]));
    expect([...encoded]).toEqual([0, 1, 2, 3, 4, 9, 8]);
  });

  it('round-trips ids up to 2^31-1 and keeps the payload bytes', () => {
    const payload = new TextEncoder().encode('{"a":1}');
    const decoded = decodeWireFormat(encodeWireFormat(2_147_483_647, payload));
    expect(decoded.schemaId).toBe(2_147_483_647);
    expect([...decoded.payload]).toEqual([...payload]);
  });

  it('reads a value that sits at an offset inside a larger buffer', () => {
    const backing = new Uint8Array([7, 7, 0, 0, 0, 0, 42, 1]);
    const decoded = decodeWireFormat(backing.subarray(2));
    expect(decoded.schemaId).toBe(42);
    expect([...decoded.payload]).toEqual([1]);
  });

  it('refuses negative, fractional and oversized schema ids', () => {
    for (const id of [-1, 1.5, 2 ** 31]) {
      expect(() => encodeWireFormat(id, new Uint8Array())).toThrow(/does not fit/);
    }
  });

  it('refuses short values and another magic byte with a serialization error', () => {
    const short = (): unknown => decodeWireFormat(new Uint8Array([0, 0, 1]));
    expect(short).toThrow(/too short/);
    try {
      decodeWireFormat(new TextEncoder().encode('{"json":true}'));
      expect.unreachable();
    } catch (error) {
      expect(isTributaryError(error, 'SERIALIZATION_FAILED')).toBe(true);
    }
  });

  it('tells wire-format values from JSON text by the first byte', () => {
    expect(isWireFormat(encodeWireFormat(1, new Uint8Array()))).toBe(true);
    expect(isWireFormat(new TextEncoder().encode('{}'))).toBe(false);
    expect(isWireFormat(new Uint8Array([0, 1]))).toBe(false);
  });
});
