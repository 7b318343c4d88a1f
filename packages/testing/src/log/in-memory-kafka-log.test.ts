import { describe, expect, it } from 'vitest';
import {
  InvalidPartitionsError,
  InvalidRecordError,
  InvalidTransactionStateError,
  isLogError,
  MessageTooLargeError,
  OffsetOutOfRangeError,
  TopicAlreadyExistsError,
  UnknownTopicError,
} from './errors.js';
import { InMemoryKafkaLog } from './in-memory-kafka-log.js';
import { partitionForKey } from './murmur2.js';

const fixedClock = (): number => 1_700_000_000_000;

function logWithTopic(partitions = 3): InMemoryKafkaLog {
  const log = new InMemoryKafkaLog({ now: fixedClock });
  log.createTopic('events.Account', { partitions });
  return log;
}

describe('topics', () => {
  it('lists created topics with their partitions and cleanup policy', () => {
    const log = logWithTopic(3);
    log.createTopic('checkpoints', { partitions: 1, cleanupPolicy: 'compact' });

    expect(log.listTopics()).toEqual(['checkpoints', 'events.Account']);
    expect(log.partitionsFor('events.Account')).toEqual([0, 1, 2]);
    expect(log.describeTopic('checkpoints')).toEqual({
      name: 'checkpoints',
      partitions: 1,
      cleanupPolicy: 'compact',
    });
    expect(log.describeTopic('events.Account').cleanupPolicy).toBe('delete');
  });

  it('refuses a duplicate topic and a non-positive partition count', () => {
    const log = logWithTopic();
    expect(() => log.createTopic('events.Account', { partitions: 1 })).toThrow(
      TopicAlreadyExistsError,
    );
    expect(() => log.createTopic('empty', { partitions: 0 })).toThrow(InvalidPartitionsError);
    expect(() => log.createTopic('fractional', { partitions: 1.5 })).toThrow(
      InvalidPartitionsError,
    );
    expect(log.listTopics()).toEqual(['events.Account']);
  });

  it('throws UnknownTopicError (UNKNOWN_TOPIC_OR_PARTITION, retriable) for a missing topic', async () => {
    const log = logWithTopic();
    const producer = log.producer();

    const sending = producer.send({ topic: 'events.Nope', messages: [{ value: 'x' }] });
    await expect(sending).rejects.toBeInstanceOf(UnknownTopicError);
    const error: unknown = await sending.catch((caught: unknown) => caught);
    expect(isLogError(error, 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(true);
    expect(isLogError(error) && error.retriable).toBe(true);

    expect(() => log.partitionsFor('events.Nope')).toThrow(UnknownTopicError);
    expect(() => log.endOffsets('events.Nope')).toThrow(UnknownTopicError);
    expect(() => log.fetch('events.Nope', 0, 0)).toThrow(UnknownTopicError);
  });

  it('throws UnknownTopicError for a partition the topic does not have', async () => {
    const log = logWithTopic(2);
    await expect(
      log.producer().send({ topic: 'events.Account', messages: [{ value: 'x', partition: 2 }] }),
    ).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION', partition: 2 });
    expect(log.endOffsets('events.Account').map(({ offset }) => offset)).toEqual([0, 0]);
  });
});

describe('producing', () => {
  it('gives each partition contiguous offsets starting at 0', async () => {
    const log = logWithTopic(1);
    const producer = log.producer();

    const first = await producer.send({
      topic: 'events.Account',
      messages: [{ value: 'a' }, { value: 'b' }],
    });
    const second = await producer.send({ topic: 'events.Account', messages: [{ value: 'c' }] });

    expect([...first, ...second].map(({ offset }) => offset)).toEqual([0, 1, 2]);
    expect(log.fetch('events.Account', 0, 0).records.map(({ offset }) => offset)).toEqual([
      0, 1, 2,
    ]);
  });

  it('sends records with the same key to the partition Kafka would pick, keeping their order', async () => {
    const log = logWithTopic(6);
    const producer = log.producer();
    const keys = ['account-1', 'account-2', 'account-3', 'foobar', '21'];

    for (let version = 1; version <= 3; version++) {
      await producer.send({
        topic: 'events.Account',
        messages: keys.map((key) => ({ key, value: `${key}@${String(version)}` })),
      });
    }

    for (const key of keys) {
      const partition = partitionForKey(key, 6);
      const values = log
        .fetch('events.Account', partition, 0)
        .records.filter((record) => record.key === key)
        .map((record) => record.value);
      expect(values).toEqual([`${key}@1`, `${key}@2`, `${key}@3`]);
    }
    // Kafka's murmur2("21") = -973932308; toPositive gives 1173551340, and 1173551340 % 6 = 0.
    expect(partitionForKey('21', 6)).toBe(0);
    expect(log.fetch('events.Account', 0, 0).records.map(({ key }) => key)).toContain('21');
  });

  it('honours an explicit partition over the key', async () => {
    const log = logWithTopic(3);
    const keyPartition = partitionForKey('account-1', 3);
    const explicit = (keyPartition + 1) % 3;

    const [metadata] = await log.producer().send({
      topic: 'events.Account',
      messages: [{ key: 'account-1', value: 'x', partition: explicit }],
    });

    expect(metadata?.partition).toBe(explicit);
  });

  it('spreads records without key round-robin from partition 0', async () => {
    const log = logWithTopic(3);
    const metadata = await log.producer().send({
      topic: 'events.Account',
      messages: Array.from({ length: 7 }, (_, index) => ({ value: String(index) })),
    });
    expect(metadata.map(({ partition }) => partition)).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });

  it('stores key, value, headers and timestamp, copying byte values', async () => {
    const log = logWithTopic(1);
    const bytes = Uint8Array.of(1, 2, 3);
    await log.producer().send({
      topic: 'events.Account',
      messages: [
        { key: 'k', value: bytes, headers: { 'event-type': 'Opened' } },
        { key: 'k', value: null, timestamp: 42 },
      ],
    });
    bytes[0] = 99;

    const [first, second] = log.fetch('events.Account', 0, 0).records;
    expect(first).toEqual({
      topic: 'events.Account',
      partition: 0,
      offset: 0,
      key: 'k',
      value: Uint8Array.of(1, 2, 3),
      headers: { 'event-type': 'Opened' },
      timestamp: 1_700_000_000_000,
    });
    expect(second).toMatchObject({ value: null, headers: {}, timestamp: 42 });
  });

  it('rejects a record larger than maxMessageBytes and writes nothing of that send', async () => {
    const log = new InMemoryKafkaLog({ maxMessageBytes: 10 });
    log.createTopic('t', { partitions: 1 });

    await expect(
      log.producer().send({
        topic: 't',
        messages: [{ value: 'small' }, { key: 'key', value: '12345678' }],
      }),
    ).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(log.endOffsets('t')).toEqual([{ partition: 0, offset: 0 }]);

    await expect(
      log.producer().send({ topic: 't', messages: [{ key: 'key', value: '1234567' }] }),
    ).resolves.toHaveLength(1);
  });

  it('defaults maxMessageBytes to 1 MiB', async () => {
    const log = logWithTopic(1);
    const producer = log.producer();
    await expect(
      producer.send({ topic: 'events.Account', messages: [{ value: new Uint8Array(1_048_576) }] }),
    ).resolves.toHaveLength(1);
    await expect(
      producer.send({ topic: 'events.Account', messages: [{ value: new Uint8Array(1_048_577) }] }),
    ).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE', retriable: false });
  });

  it('refuses a record without key on a compacted topic', async () => {
    const log = logWithTopic();
    log.createTopic('checkpoints', { partitions: 1, cleanupPolicy: 'compact' });
    await expect(
      log.producer().send({ topic: 'checkpoints', messages: [{ value: 'x' }] }),
    ).rejects.toBeInstanceOf(InvalidRecordError);
  });

  it('refuses a plain send from a transactional producer', async () => {
    const log = logWithTopic();
    await expect(
      log
        .producer({ transactionalId: 'capturer' })
        .send({ topic: 'events.Account', messages: [{ value: 'x' }] }),
    ).rejects.toBeInstanceOf(InvalidTransactionStateError);
    expect(log.endOffsets('events.Account').every(({ offset }) => offset === 0)).toBe(true);
  });

  it('refuses to send after disconnect', async () => {
    const log = logWithTopic();
    const producer = log.producer();
    await producer.disconnect();
    await expect(
      producer.send({ topic: 'events.Account', messages: [{ value: 'x' }] }),
    ).rejects.toMatchObject({ code: 'ILLEGAL_STATE' });
  });
});

describe('reading and offsets', () => {
  it('reports earliest and end offsets per partition', async () => {
    const log = logWithTopic(2);
    await log.producer().send({
      topic: 'events.Account',
      messages: [
        { value: 'a', partition: 0 },
        { value: 'b', partition: 0 },
        { value: 'c', partition: 1 },
      ],
    });

    expect(log.earliestOffsets('events.Account')).toEqual([
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
    ]);
    expect(log.endOffsets('events.Account')).toEqual([
      { partition: 0, offset: 2 },
      { partition: 1, offset: 1 },
    ]);
    expect(log.watermarks('events.Account')).toEqual([
      { partition: 0, earliestOffset: 0, highWatermark: 2, lastStableOffset: 2 },
      { partition: 1, earliestOffset: 0, highWatermark: 1, lastStableOffset: 1 },
    ]);
  });

  it('fetches from an offset with a record limit and says where to continue', async () => {
    const log = logWithTopic(1);
    await log.producer().send({
      topic: 'events.Account',
      messages: ['a', 'b', 'c', 'd'].map((value) => ({ value })),
    });

    const page = log.fetch('events.Account', 0, 1, { maxRecords: 2 });
    expect(page.records.map(({ value }) => value)).toEqual(['b', 'c']);
    expect(page.nextOffset).toBe(3);
    expect(log.fetch('events.Account', 0, 4).records).toEqual([]);
  });

  it('throws OffsetOutOfRangeError for a fetch past the high watermark or below 0', async () => {
    const log = logWithTopic(1);
    await log.producer().send({ topic: 'events.Account', messages: [{ value: 'a' }] });
    expect(() => log.fetch('events.Account', 0, 2)).toThrow(OffsetOutOfRangeError);
    expect(() => log.fetch('events.Account', 0, -1)).toThrow(OffsetOutOfRangeError);
  });

  it('gives the latest visible record per key of a compacted topic, honouring tombstones', async () => {
    const log = logWithTopic();
    log.createTopic('checkpoints', { partitions: 2, cleanupPolicy: 'compact' });
    const producer = log.producer();
    await producer.send({
      topic: 'checkpoints',
      messages: [
        { key: 'capturer-a', value: '{"commitLsn":"0/10"}' },
        { key: 'capturer-b', value: '{"commitLsn":"0/20"}' },
        { key: 'capturer-a', value: '{"commitLsn":"0/30"}' },
        { key: 'capturer-b', value: null },
      ],
    });

    const latest = log.latestByKey('checkpoints');
    expect([...latest.keys()]).toEqual(['capturer-a']);
    expect(latest.get('capturer-a')?.value).toBe('{"commitLsn":"0/30"}');
  });
});
