import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';

const require = createRequire(import.meta.url);
const kafkajsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (
  buffer: Buffer,
) => number;

describe('crc32c', () => {
  it('gives the check value of CRC-32C', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it("equals kafkajs's CRC-32C on random bytes, lengths and offsets", () => {
    for (let round = 0; round < 300; round += 1) {
      const bytes = randomBytes(Math.floor(Math.random() * 3000));
      const start = Math.floor(Math.random() * Math.min(20, bytes.length + 1));
      const end = start + Math.floor(Math.random() * (bytes.length - start + 1));
      expect(crc32c(bytes, start, end)).toBe(kafkajsCrc32C(bytes.subarray(start, end)));
    }
  });
});
