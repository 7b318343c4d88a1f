/**
 * Kafka's default partitioner for keyed records.
 *
 * The Java client (`Utils.murmur2` + `BuiltInPartitioner.partitionForKey`) and kafkajs's
 * `DefaultPartitioner` both map a key to `toPositive(murmur2(utf8(key))) % numPartitions`.
 * Reproducing it bit for bit means an aggregate lands on the same partition number in the
 * in-memory log as in a real cluster, and lets the capturer send each record to the
 * partition the topic's recorded partition count gives, whatever the count is today.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

const utf8 = new TextEncoder();

/**
 * Kafka's murmur2 (32-bit signed result), exactly as `org.apache.kafka.common.utils.Utils.murmur2`.
 * Java `int` arithmetic wraps at 32 bits, hence `Math.imul` and `| 0`; `>>>` is Java's `>>>`.
 *
 * @param data - the serialized key bytes.
 * @returns the hash as a signed 32-bit integer.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;

  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    // Little-endian 4-byte word, as Java reads it.
    let k =
      (data[i4] ?? 0) |
      ((data[i4 + 1] ?? 0) << 8) |
      ((data[i4 + 2] ?? 0) << 16) |
      ((data[i4 + 3] ?? 0) << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }

  // The tail bytes fall through exactly like Java's switch without breaks.
  const tail = length & ~3;
  const remainder = length % 4;
  if (remainder >= 3) h ^= (data[tail + 2] ?? 0) << 16;
  if (remainder >= 2) h ^= (data[tail + 1] ?? 0) << 8;
  if (remainder >= 1) {
    h ^= data[tail] ?? 0;
    h = Math.imul(h, M);
  }

  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * Kafka's `Utils.toPositive`: clears the sign bit (not `Math.abs`, which would map
 * differently and overflow for `-2^31`).
 */
export function toPositive(value: number): number {
  return value & 0x7fffffff;
}

/**
 * The partition Kafka's default partitioner picks for a string key, serialized as UTF-8
 * the way kafkajs and Kafka's `StringSerializer` do.
 *
 * @param key - the record key.
 * @param numPartitions - the topic's partition count (all partitions, not only available ones, as in Kafka).
 */
export function partitionForKey(key: string, numPartitions: number): number {
  return toPositive(murmur2(utf8.encode(key))) % numPartitions;
}
