import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cPortable, nativeCrc32c } from './crc32c.js';

const require = createRequire(import.meta.url);
const kafkajsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (
  buffer: Buffer,
) => number;

describe('crc32c', () => {
  it('runs the native implementation here (linux-x64)', () => {
    expect(nativeCrc32c).toBe(true);
  });

  it('gives the check value of CRC-32C, native and portable', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32cPortable(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it("equals kafkajs's CRC-32C on random bytes, lengths and offsets", () => {
    for (let round = 0; round < 300; round += 1) {
      const bytes = randomBytes(Math.floor(Math.random() * 3000));
      const start = Math.floor(Math.random() * Math.min(20, bytes.length + 1));
      const end = start + Math.floor(Math.random() * (bytes.length - start + 1));
      const expected = kafkajsCrc32C(bytes.subarray(start, end));
      expect(crc32c(bytes, start, end)).toBe(expected);
      expect(crc32cPortable(bytes, start, end)).toBe(expected);
      // A plain Uint8Array view with its own offset into a larger buffer.
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
      expect(crc32c(view, start, end)).toBe(expected);
    }
  });
});
