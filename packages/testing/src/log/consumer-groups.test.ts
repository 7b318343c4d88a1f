import { describe, expect, it } from 'vitest';
import {
  IllegalStateError,
  OffsetOutOfRangeError,
  RebalanceInProgressError,
  UnknownTopicError,
} from './errors.js';
import type { InMemoryConsumer } from './consumer.js';
import { InMemoryKafkaLog } from './in-memory-kafka-log.js';
import type { LogBatch, TopicPartition } from './types.js';

const TOPIC = 'events.Account';

/** A log whose topic has `partitions` partitions and `perPartition` records "p<partition>-<n>" in each. */
async function seeded(partitions: number, perPartition: number): Promise<InMemoryKafkaLog> {
  const log = new InMemoryKafkaLog({ now: () => 0 });
  log.createTopic(TOPIC, { partitions });
  const messages = Array.from({ length: partitions }, (_, partition) =>
    Array.from({ length: perPartition }, (_, n) => ({
      value: `p${String(partition)}-${String(n)}`,
      partition,
    })),
  ).flat();
  await log.producer().send({ topic: TOPIC, messages });
  return log;
}

const valuesOf = (batches: readonly LogBatch[]): unknown[] =>
  batches.flatMap((batch) => batch.records.map((record) => record.value));

const partitionsOf = (topicPartitions: readonly TopicPartition[]): number[] =>
  topicPartitions.map(({ partition }) => partition);

async function subscribed(
  log: InMemoryKafkaLog,
  groupId: string,
  options: Partial<Parameters<InMemoryKafkaLog['consumer']>[0]> = {},
): Promise<InMemoryConsumer> {
  const consumer = log.consumer({ groupId, ...options });
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  return consumer;
}

describe('consumer positions', () => {
  it('reads from the earliest offset with fromBeginning, in per-partition order', async () => {
    const log = await seeded(2, 3);
    const consumer = await subscribed(log, 'projection');

    const batches = await consumer.poll();

    expect(
      batches.map(({ partition, records }) => [partition, records.map((r) => r.value)]),
    ).toEqual([
      [0, ['p0-0', 'p0-1', 'p0-2']],
      [1, ['p1-0', 'p1-1', 'p1-2']],
    ]);
    expect(await consumer.poll()).toEqual([]);
  });

  it('starts at the end without fromBeginning and reads only later records', async () => {
    const log = await seeded(1, 3);
    const consumer = log.consumer({ groupId: 'tail' });
    await consumer.subscribe({ topics: [TOPIC] });

    expect(await consumer.poll()).toEqual([]);
    await log.producer().send({ topic: TOPIC, messages: [{ value: 'new' }] });
    expect(valuesOf(await consumer.poll())).toEqual(['new']);
  });

  it('defaults to read_committed: an open transaction is invisible until committed', async () => {
    const log = await seeded(1, 1);
    const committedReader = await subscribed(log, 'committed');
    const uncommittedReader = await subscribed(log, 'uncommitted', {
      isolationLevel: 'read_uncommitted',
    });
    expect(committedReader.isolationLevel).toBe('read_committed');
    const tx = await log.producer({ transactionalId: 'capturer' }).transaction();
    await tx.send({ topic: TOPIC, messages: [{ value: 'pending' }] });

    expect(valuesOf(await committedReader.poll())).toEqual(['p0-0']);
    expect(valuesOf(await uncommittedReader.poll())).toEqual(['p0-0', 'pending']);

    await tx.commit();

    expect(valuesOf(await committedReader.poll())).toEqual(['pending']);
    // The position moves past the COMMIT marker: p0-0@0, pending@1, COMMIT@2.
    expect(committedReader.position({ topic: TOPIC, partition: 0 })).toBe(3);
  });

  it('seeks backwards and forwards within an assigned partition', async () => {
    const log = await seeded(1, 5);
    const consumer = await subscribed(log, 'projection');
    await consumer.poll();

    consumer.seek({ topic: TOPIC, partition: 0, offset: 1 });
    expect(valuesOf(await consumer.poll({ maxRecords: 2 }))).toEqual(['p0-1', 'p0-2']);
    consumer.seek({ topic: TOPIC, partition: 0, offset: 4 });
    expect(valuesOf(await consumer.poll())).toEqual(['p0-4']);
  });

  it('refuses to seek an unassigned partition or outside the log', async () => {
    const log = await seeded(2, 1);
    const consumer = await subscribed(log, 'projection');
    expect(() => consumer.seek({ topic: TOPIC, partition: 0, offset: 0 })).toThrow(
      IllegalStateError,
    );
    await consumer.poll();

    expect(() => consumer.seek({ topic: TOPIC, partition: 0, offset: 2 })).toThrow(
      OffsetOutOfRangeError,
    );
    expect(() => consumer.seek({ topic: TOPIC, partition: 5, offset: 0 })).toThrow(
      IllegalStateError,
    );
  });

  it('limits a poll to maxRecords and rotates across partitions so none starves', async () => {
    const log = await seeded(2, 4);
    const consumer = await subscribed(log, 'projection', { maxPollRecords: 3 });

    const first = await consumer.poll();
    const second = await consumer.poll({ maxRecords: 1 });
    const third = await consumer.poll({ maxRecords: 1 });

    expect(valuesOf(first)).toEqual(['p0-0', 'p0-1', 'p0-2']);
    expect(valuesOf(second)).toEqual(['p1-0']);
    expect(valuesOf(third)).toEqual(['p0-3']);
  });

  it('refuses to poll before subscribing and to subscribe to an unknown topic', async () => {
    const log = await seeded(1, 1);
    const consumer = log.consumer({ groupId: 'projection' });
    await expect(consumer.poll()).rejects.toBeInstanceOf(IllegalStateError);
    await expect(consumer.subscribe({ topics: ['events.Nope'] })).rejects.toBeInstanceOf(
      UnknownTopicError,
    );
  });
});

describe('committed offsets', () => {
  it('stores committed offsets per group and lets a new member resume from them', async () => {
    const log = await seeded(1, 4);
    const first = await subscribed(log, 'projection');
    expect(valuesOf(await first.poll({ maxRecords: 2 }))).toEqual(['p0-0', 'p0-1']);
    await first.commitOffsets([{ topic: TOPIC, partition: 0, offset: 2 }]);
    await first.disconnect();

    expect(log.committedOffsets('projection', TOPIC)).toEqual([{ partition: 0, offset: 2 }]);
    expect(log.committedOffsets('other', TOPIC)).toEqual([{ partition: 0, offset: null }]);

    const successor = await subscribed(log, 'projection');
    expect(valuesOf(await successor.poll())).toEqual(['p0-2', 'p0-3']);
    const otherGroup = await subscribed(log, 'other');
    expect(valuesOf(await otherGroup.poll())).toHaveLength(4);
  });

  it('supports lag as end offset (read_committed) minus committed offset', async () => {
    const log = await seeded(2, 3);
    const consumer = await subscribed(log, 'projection');
    await consumer.poll({ maxRecords: 2 });
    await consumer.commitOffsets([{ topic: TOPIC, partition: 0, offset: 2 }]);

    const ends = log.endOffsets(TOPIC, { isolationLevel: 'read_committed' });
    const lag = log
      .committedOffsets('projection', TOPIC)
      .map(({ partition, offset }) => (ends[partition]?.offset ?? 0) - (offset ?? 0));
    expect(lag).toEqual([1, 3]);
  });

  it('refuses to commit an offset outside the log', async () => {
    const log = await seeded(1, 2);
    const consumer = await subscribed(log, 'projection');
    await consumer.poll();
    await expect(
      consumer.commitOffsets([{ topic: TOPIC, partition: 0, offset: 3 }]),
    ).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    expect(log.committedOffsets('projection', TOPIC)[0]?.offset).toBeNull();
  });
});

describe('group membership', () => {
  it('splits partitions between two members with range assignment', async () => {
    const log = await seeded(4, 1);
    const a = await subscribed(log, 'projection');
    const b = await subscribed(log, 'projection');

    const fromA = await a.poll();
    const fromB = await b.poll();

    expect(partitionsOf(a.assignment())).toEqual([0, 1]);
    expect(partitionsOf(b.assignment())).toEqual([2, 3]);
    expect(valuesOf(fromA)).toEqual(['p0-0', 'p1-0']);
    expect(valuesOf(fromB)).toEqual(['p2-0', 'p3-0']);
  });

  it('gives the first members the extra partitions when they do not divide evenly', async () => {
    const log = await seeded(5, 0);
    const members = [
      await subscribed(log, 'projection'),
      await subscribed(log, 'projection'),
      await subscribed(log, 'projection'),
    ];
    for (const member of members) await member.poll();
    expect(members.map((member) => partitionsOf(member.assignment()))).toEqual([
      [0, 1],
      [2, 3],
      [4],
    ]);
  });

  it('reassigns the partitions of a leaving member and runs the rebalance listeners', async () => {
    const log = await seeded(2, 2);
    const events: string[] = [];
    const listeners = (name: string): Parameters<InMemoryKafkaLog['consumer']>[0] => ({
      groupId: 'projection',
      onPartitionsAssigned: (partitions) => {
        events.push(`${name} assigned ${partitionsOf(partitions).join(',')}`);
      },
      onPartitionsRevoked: (partitions) => {
        events.push(`${name} revoked ${partitionsOf(partitions).join(',')}`);
      },
    });
    const a = log.consumer(listeners('a'));
    await a.subscribe({ topics: [TOPIC], fromBeginning: true });
    const b = log.consumer(listeners('b'));
    await b.subscribe({ topics: [TOPIC], fromBeginning: true });
    await a.poll();
    await b.poll();
    await a.commitOffsets([{ topic: TOPIC, partition: 0, offset: 1 }]);

    await a.disconnect();
    const afterLeave = await b.poll();

    expect(events).toEqual([
      'a assigned 0',
      'b assigned 1',
      'a revoked 0',
      'b revoked 1',
      'b assigned 0,1',
    ]);
    expect(partitionsOf(b.assignment())).toEqual([0, 1]);
    // Partition 0 resumes at a's committed offset; partition 1 was never committed, so the
    // eager rebalance re-delivers it from the beginning.
    expect(
      afterLeave.map(({ partition, records }) => [partition, records.map((r) => r.value)]),
    ).toEqual([
      [0, ['p0-1']],
      [1, ['p1-0', 'p1-1']],
    ]);
    expect(log.describeGroup('projection').members.map(({ memberId }) => memberId)).toEqual([
      b.memberId,
    ]);
  });

  it('lets onPartitionsAssigned seek to an externally stored offset before the first fetch', async () => {
    const log = await seeded(1, 5);
    const storedNextOffset = 3;
    const consumer = log.consumer({
      groupId: 'projection',
      onPartitionsAssigned: (partitions) => {
        for (const { topic, partition } of partitions) {
          consumer.seek({ topic, partition, offset: storedNextOffset });
        }
      },
    });
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });

    expect(valuesOf(await consumer.poll())).toEqual(['p0-3', 'p0-4']);
  });

  it('refuses commits from a member that has not rejoined since a rebalance', async () => {
    const log = await seeded(2, 1);
    const zombie = await subscribed(log, 'projection');
    await zombie.poll();
    const generation = log.describeGroup('projection').generation;

    await subscribed(log, 'projection');

    expect(log.describeGroup('projection').generation).toBe(generation + 1);
    const commit = zombie.commitOffsets([{ topic: TOPIC, partition: 1, offset: 1 }]);
    await expect(commit).rejects.toBeInstanceOf(RebalanceInProgressError);
    await expect(commit).rejects.toMatchObject({ retriable: true });
    expect(log.committedOffsets('projection', TOPIC)[1]?.offset).toBeNull();

    await zombie.poll();
    await expect(
      zombie.commitOffsets([{ topic: TOPIC, partition: 0, offset: 1 }]),
    ).resolves.toBeUndefined();
  });

  it('accepts a commit made from onPartitionsRevoked during the rebalance', async () => {
    const log = await seeded(2, 2);
    const a: InMemoryConsumer = log.consumer({
      groupId: 'projection',
      onPartitionsRevoked: async (partitions) => {
        await a.commitOffsets(
          partitions.map(({ topic, partition }) => ({
            topic,
            partition,
            offset: a.position({ topic, partition }),
          })),
        );
      },
    });
    await a.subscribe({ topics: [TOPIC], fromBeginning: true });
    await a.poll();
    await subscribed(log, 'projection');

    await a.poll();

    expect(log.committedOffsets('projection', TOPIC)).toEqual([
      { partition: 0, offset: 2 },
      { partition: 1, offset: 2 },
    ]);
  });

  it('refuses to use a disconnected consumer', async () => {
    const log = await seeded(1, 1);
    const consumer = await subscribed(log, 'projection');
    await consumer.disconnect();
    await expect(consumer.poll()).rejects.toBeInstanceOf(IllegalStateError);
    await expect(
      consumer.commitOffsets([{ topic: TOPIC, partition: 0, offset: 0 }]),
    ).rejects.toBeInstanceOf(IllegalStateError);
  });
});
