/** Generates event and command ids: UUID v7, time-ordered so indexes stay compact. */
export type IdGenerator = () => string;

/**
 * Random bytes for 256 ids, drawn at once: one `getRandomValues` call per id cost more
 * than the rest of an append's validation (~5 µs of ~35), and ids need no forward secrecy.
 */
const randomPool = new Uint8Array(16 * 256);
let poolOffset = randomPool.length;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
/** The millisecond and 32-bit counter of the last id, as the `uuid` package keeps them. */
let lastMillis = Number.NEGATIVE_INFINITY;
let sequence = 0;

/**
 * The default {@link IdGenerator}: UUID v7 (RFC 9562), laid out as the `uuid` package's
 * `v7()`: 48-bit Unix milliseconds, then a 32-bit counter seeded randomly each millisecond
 * and incremented within it (so ids of one process are strictly increasing), then random
 * bits.
 */
export const uuidV7: IdGenerator = () => {
  if (poolOffset === randomPool.length) {
    crypto.getRandomValues(randomPool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 16;
  const now = Date.now();
  if (now > lastMillis) {
    sequence =
      ((byteAt(at + 6) & 0x7f) << 24) |
      (byteAt(at + 7) << 16) |
      (byteAt(at + 8) << 8) |
      byteAt(at + 9);
    lastMillis = now;
  } else {
    sequence = (sequence + 1) | 0;
    // 2^32 ids in one millisecond: borrow the next one, as `uuid` does.
    if (sequence === 0) lastMillis += 1;
  }
  const ms = lastMillis;
  return (
    hex(ms / 0x10000000000) +
    hex(ms / 0x100000000) +
    hex(ms / 0x1000000) +
    hex(ms / 0x10000) +
    '-' +
    hex(ms / 0x100) +
    hex(ms) +
    '-' +
    hex(0x70 | ((sequence >>> 28) & 0x0f)) +
    hex(sequence >>> 20) +
    '-' +
    hex(0x80 | ((sequence >>> 14) & 0x3f)) +
    hex(sequence >>> 6) +
    '-' +
    hex(((sequence << 2) & 0xff) | (byteAt(at + 10) & 0x03)) +
    hex(byteAt(at + 11)) +
    hex(byteAt(at + 12)) +
    hex(byteAt(at + 13)) +
    hex(byteAt(at + 14)) +
    hex(byteAt(at + 15))
  );
};

// Module-level helpers, not closures: a closure is created on every call (and tsx, which
// runs the benchmarks, wraps each one in a naming call).
function byteAt(index: number): number {
  return randomPool[index] as number;
}

function hex(byte: number): string {
  return HEX[byte & 0xff] as string;
}

/** Returns the current time; replaceable in tests for deterministic timestamps. */
export type Clock = () => Date;

/** The default {@link Clock}: the system clock. */
export const systemClock: Clock = () => new Date();
