/**
 * CRC-32C (Castagnoli): the checksum of every Kafka record batch. kafkajs computes it a byte
 * at a time, which was ~4–5 % of the capturer's busy time in bench:capture. {@link crc32c}
 * uses the native implementation of `@node-rs/crc32` (prebuilt binaries; ~5× faster than
 * the JavaScript below on 900 KiB) and falls back to {@link crc32cPortable}, eight bytes per
 * step ("slicing-by-8"), where the binding cannot load (an unsupported platform).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The reflected Castagnoli polynomial. */
const POLYNOMIAL = 0x82f63b78;

const TABLES = ((): Int32Array[] => {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  const first = tables[0] as Int32Array;
  for (let n = 0; n < 256; n += 1) {
    let crc = n;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    first[n] = crc;
  }
  for (let k = 1; k < 8; k += 1) {
    const previous = tables[k - 1] as Int32Array;
    const table = tables[k] as Int32Array;
    for (let n = 0; n < 256; n += 1) {
      const value = previous[n] as number;
      table[n] = (value >>> 8) ^ (first[value & 0xff] as number);
    }
  }
  return tables;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
];

/** CRC-32C of `bytes[start, end)`, as an unsigned 32-bit number, in JavaScript. */
export function crc32cPortable(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = -1;
  let index = start;
  for (; index + 8 <= end; index += 8) {
    crc ^=
      (bytes[index] as number) |
      ((bytes[index + 1] as number) << 8) |
      ((bytes[index + 2] as number) << 16) |
      ((bytes[index + 3] as number) << 24);
    const high =
      (bytes[index + 4] as number) |
      ((bytes[index + 5] as number) << 8) |
      ((bytes[index + 6] as number) << 16) |
      ((bytes[index + 7] as number) << 24);
    crc =
      (T7[crc & 0xff] as number) ^
      (T6[(crc >>> 8) & 0xff] as number) ^
      (T5[(crc >>> 16) & 0xff] as number) ^
      (T4[crc >>> 24] as number) ^
      (T3[high & 0xff] as number) ^
      (T2[(high >>> 8) & 0xff] as number) ^
      (T1[(high >>> 16) & 0xff] as number) ^
      (T0[high >>> 24] as number);
  }
  for (; index < end; index += 1) {
    crc = (T0[(crc ^ (bytes[index] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ -1) >>> 0;
}

type NativeCrc32c = (input: Buffer, initialState?: number) => number;

function loadNative(): NativeCrc32c | undefined {
  try {
    return (require('@node-rs/crc32') as { crc32c: NativeCrc32c }).crc32c;
  } catch {
    return undefined;
  }
}

const native = loadNative();

/** Whether {@link crc32c} runs the native implementation in this process. */
export const nativeCrc32c: boolean = native !== undefined;

/** CRC-32C of `bytes[start, end)`, as an unsigned 32-bit number. */
export const crc32c: (bytes: Uint8Array, start?: number, end?: number) => number =
  native === undefined
    ? crc32cPortable
    : (bytes, start = 0, end = bytes.length) =>
        native(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start)) >>> 0;
