import { describe, expect, it } from 'vitest';
import {
  encodeProduceRequestFast,
  kafkajsProduceRequest,
  type ProducePartition,
  type ProduceRequestOptions,
} from './kafkajs-produce-request.js';

const bytes = (encoder: { buf: Buffer; offset: number }): Buffer =>
  encoder.buf.subarray(0, encoder.offset);

// Random slices of one text of ASCII, 2-byte and 3-byte UTF-8 characters (cheap to make).
const TEXT = Array.from({ length: 4096 }, () =>
  String.fromCodePoint(32 + Math.floor(Math.random() * 2000)),
).join('');
const randomText = (length: number): string => {
  const start = Math.floor(Math.random() * (TEXT.length - length));
  return TEXT.slice(start, start + length);
};

const message = (): ProducePartition['messages'][number] => {
  // Buffers, not plain Uint8Arrays: kafkajs's own record encoder would stringify those.
  const headers: Record<string, string | Buffer> = {};
  for (let h = 0; h < Math.floor(Math.random() * 14); h += 1) {
    headers[randomText(1 + h)] =
      h % 5 === 4 ? Buffer.from([h, 0, 255]) : randomText(Math.floor(Math.random() * 200));
  }
  return {
    key: Math.random() < 0.1 ? null : randomText(Math.floor(Math.random() * 40)),
    value:
      Math.random() < 0.1
        ? null
        : Math.random() < 0.5
          ? Buffer.from(randomText(Math.floor(Math.random() * 2000)))
          : randomText(Math.floor(Math.random() * 500)),
    headers,
  };
};

const randomRequest = (transactionalId: string | null): ProduceRequestOptions => ({
  acks: -1,
  timeout: 30_000,
  transactionalId,
  producerId: Math.floor(Math.random() * 2 ** 40),
  producerEpoch: Math.floor(Math.random() * 100),
  compression: 0,
  topicData: Array.from({ length: 1 + Math.floor(Math.random() * 3) }, (_, t) => ({
    topic: `topic.${t}.${randomText(3)}`,
    partitions: Array.from({ length: 1 + Math.floor(Math.random() * 3) }, (_, p) => ({
      partition: p,
      firstSequence: Math.floor(Math.random() * 1_000_000),
      messages: Array.from({ length: 1 + Math.floor(Math.random() * 60) }, message),
    })),
  })),
});

describe('the fast kafkajs Produce request encoder', () => {
  it('writes exactly the bytes kafkajs writes (same clock)', async () => {
    const original = kafkajsProduceRequest();
    const now = Date.now();
    const realNow = Date.now;
    Date.now = () => now;
    try {
      for (let index = 0; index < 30; index += 1) {
        const options = randomRequest(index % 3 === 0 ? null : `tributary.capture.${index}`);
        const fast = encodeProduceRequestFast(options, now);
        expect(fast).toBeDefined();
        const expected = bytes(await original(options).encode());
        expect(bytes(fast as { buf: Buffer; offset: number }).equals(expected)).toBe(true);
      }
    } finally {
      Date.now = realNow;
    }
  });

  it('leaves requests outside its fast path to kafkajs', () => {
    const base = randomRequest('t');
    expect(encodeProduceRequestFast({ ...base, compression: 1 })).toBeUndefined();
    const topic = { topic: 't', partitions: [{ partition: 0, messages: [] }] };
    expect(encodeProduceRequestFast({ ...base, topicData: [topic] })).toBeUndefined();
    const stamped = { partition: 0, messages: [{ key: 'k', value: 'v', timestamp: '5' }] };
    expect(
      encodeProduceRequestFast({ ...base, topicData: [{ topic: 't', partitions: [stamped] }] }),
    ).toBeUndefined();
  });
});
