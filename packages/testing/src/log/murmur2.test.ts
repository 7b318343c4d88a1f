import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey, toPositive } from './murmur2.js';

const utf8 = new TextEncoder();

describe('murmur2', () => {
  // Vectors from Apache Kafka's UtilsTest.testMurmur2 (clients/src/test/.../utils/UtilsTest.java).
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %j to %i exactly like Kafka', (key, expected) => {
    expect(murmur2(utf8.encode(key))).toBe(expected);
  });

  it('covers every tail length (0 to 3 trailing bytes) like Kafka', () => {
    // "1".."12345" are Kafka's Utils.murmur2 values as quoted by Akka's Murmur2Spec; the
    // empty key is the value of kafkajs's Java-compatible murmur2.
    expect(['', '1', '12', '123', '1234', '12345'].map((key) => murmur2(utf8.encode(key)))).toEqual(
      [275646681, -1993445489, 126087238, -267702483, -1614185708, -1188365604],
    );
  });

  it('hashes the UTF-8 bytes of non-ASCII keys', () => {
    expect(murmur2(utf8.encode('é'))).toBe(murmur2(Uint8Array.of(0xc3, 0xa9)));
    expect(murmur2(utf8.encode('é'))).not.toBe(murmur2(Uint8Array.of(0xe9)));
  });
});

describe('toPositive', () => {
  it('clears the sign bit instead of negating, as Kafka does', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(42)).toBe(42);
  });
});

describe('partitionForKey', () => {
  it('picks the same partition as the kafkajs DefaultPartitioner for every key and partition count', () => {
    const kafkajsPartitioner = Partitioners.DefaultPartitioner();
    const keys = Array.from({ length: 300 }, (_, index) => `aggregate-${String(index * 7919)}-ü`);
    for (const partitions of [1, 2, 3, 6, 12, 50]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [0],
        isr: [0],
      }));
      for (const key of keys) {
        const expected = kafkajsPartitioner({
          topic: 'events.Account',
          partitionMetadata,
          message: { key, value: null },
        });
        expect(partitionForKey(key, partitions)).toBe(expected);
      }
    }
  });

  it('spreads keys over all partitions', () => {
    const used = new Set(
      Array.from({ length: 200 }, (_, index) => partitionForKey(`key-${String(index)}`, 8)),
    );
    expect([...used].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
