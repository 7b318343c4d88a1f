import {
  isKafkaProducerFencedError,
  type KafkaBatch,
  type KafkaClient,
  type KafkaRecord,
} from '@tributary/core';
import { describe, expect, it } from 'vitest';

/** What the Kafka client contract suite needs from the client under test. */
export interface KafkaClientFixture {
  readonly client: KafkaClient;
  /** A topic name unique to this run (real brokers keep topics between runs). */
  readonly topic: (name: string) => string;
  /** How long to wait for asynchronous delivery. */
  readonly timeoutMs?: number;
  /**
   * Whether the log compacts topics with `cleanup.policy=compact` (a real broker's cleaner
   * does; an in-memory log keeps every record). Default true.
   */
  readonly compacts?: boolean;
}

const text = (bytes: Uint8Array | null): string =>
  bytes === null ? '' : new TextDecoder().decode(bytes);

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const values = (records: readonly KafkaRecord[]): string[] => records.map((r) => text(r.value));

/**
 * The behaviour every implementation of the Kafka client port must show: transactions
 * visible only when committed, fencing by transactional id, consumer groups with batch
 * delivery, seek, pause and committed offsets, offsets with an open transaction, topics.
 */
export function describeKafkaClientContract(
  name: string,
  fixture: () => Promise<KafkaClientFixture>,
): void {
  describe(`Kafka client contract: ${name}`, () => {
    const setup = async (topicName: string, partitions = 1) => {
      const f = await fixture();
      const topic = f.topic(topicName);
      const admin = f.client.admin();
      await admin.connect();
      await admin.createTopics([{ topic, partitions }]);
      return { ...f, topic, admin, timeoutMs: f.timeoutMs ?? 20_000, compacts: f.compacts ?? true };
    };

    it('creates, lists and describes topics with their partition counts and settings', async () => {
      const { admin, topic } = await setup('described', 3);
      const compacted = `${topic}-compacted`;
      await admin.createTopics([
        { topic: compacted, partitions: 1, configs: { 'cleanup.policy': 'compact' } },
      ]);
      // Creating an existing topic again leaves it as it is.
      await admin.createTopics([{ topic, partitions: 5 }]);
      expect(await admin.listTopics()).toEqual(expect.arrayContaining([topic, compacted]));
      expect((await admin.describeTopic(topic)).partitions).toBe(3);
      const described = await admin.describeTopic(compacted);
      expect(described.partitions).toBe(1);
      expect(described.configs['cleanup.policy']).toBe('compact');
      await admin.disconnect();
    });

    it('shows a committed transaction read_committed and hides an aborted one', async () => {
      const { client, admin, topic } = await setup('transactions');
      const producer = client.producer({ transactionalId: `${topic}-tx` });
      await producer.connect();
      const committed = await producer.begin();
      await committed.send([{ topic, messages: [{ key: 'k', value: 'committed-1' }] }]);
      await committed.send([{ topic, messages: [{ key: 'k', value: 'committed-2' }] }]);
      await committed.commit();
      const aborted = await producer.begin();
      await aborted.send([{ topic, messages: [{ key: 'k', value: 'aborted' }] }]);
      await aborted.abort();
      const last = await producer.begin();
      await last.send([
        { topic, messages: [{ key: 'k', value: Buffer.from('committed-3'), headers: { h: 'v' } }] },
      ]);
      await last.commit();
      await producer.disconnect();

      const seen: KafkaRecord[] = [];
      await client.readCommitted(topic, (record) => seen.push(record));
      expect(values(seen)).toEqual(['committed-1', 'committed-2', 'committed-3']);
      expect(text(seen[0]?.key ?? null)).toBe('k');
      expect(seen.map((record) => record.offset)).toEqual(
        [...seen.map((record) => record.offset)].sort((a, b) => (a < b ? -1 : 1)),
      );
      await admin.disconnect();
    });

    it('fences the older producer when a newer one with the same transactional id connects', async () => {
      const { client, admin, topic } = await setup('fencing');
      const older = client.producer({ transactionalId: `${topic}-fenced` });
      await older.connect();
      const open = await older.begin();
      await open.send([{ topic, messages: [{ key: 'k', value: 'zombie' }] }]);
      const newer = client.producer({ transactionalId: `${topic}-fenced` });
      await newer.connect();
      const failure = await open.commit().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(isKafkaProducerFencedError(failure)).toBe(true);
      expect((failure as { retriable?: unknown }).retriable).toBe(false);
      const transaction = await newer.begin();
      await transaction.send([{ topic, messages: [{ key: 'k', value: 'current' }] }]);
      await transaction.commit();
      const seen: KafkaRecord[] = [];
      await client.readCommitted(topic, (record) => seen.push(record));
      expect(values(seen)).toEqual(['current']);
      await Promise.allSettled([older.disconnect(), newer.disconnect()]);
      await admin.disconnect();
    });

    it('reports the high watermark and a last stable offset held back by an open transaction', async () => {
      const { client, admin, topic } = await setup('offsets');
      const producer = client.producer({ transactionalId: `${topic}-open` });
      await producer.connect();
      const first = await producer.begin();
      await first.send([{ topic, messages: [{ key: 'k', value: 'a' }] }]);
      await first.commit();
      // Transaction markers are written after the commit returns: wait until they are in.
      const settled = async () => {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const offsets = await admin.fetchOffsets(topic);
          const first = offsets[0];
          if (first !== undefined && first.lastStableOffset === first.highWatermark) return offsets;
          if (Date.now() > deadline) return offsets;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      const before = await settled();
      expect(before).toHaveLength(1);
      expect(before[0]?.lastStableOffset).toBe(before[0]?.highWatermark);
      const open = await producer.begin();
      await open.send([
        {
          topic,
          messages: [
            { key: 'k', value: 'b' },
            { key: 'k', value: 'c' },
          ],
        },
      ]);
      const during = (await admin.fetchOffsets(topic))[0];
      expect(during?.earliest).toBe(0n);
      expect(during?.lastStableOffset).toBe(before[0]?.highWatermark);
      expect(during?.highWatermark).toBe((before[0]?.highWatermark ?? 0n) + 2n);
      await open.abort();
      const after = (await settled())[0];
      expect(after?.lastStableOffset).toBe(after?.highWatermark);
      await producer.disconnect();
      await admin.disconnect();
    });

    it("readCommitted returns records committed after another producer's still-open transaction, and none of that transaction", async () => {
      const { client, admin, topic } = await setup('past-open');
      const foreign = client.producer({ transactionalId: `${topic}-foreign` });
      const writer = client.producer({ transactionalId: `${topic}-writer` });
      await foreign.connect();
      await writer.connect();
      const first = await writer.begin();
      await first.send([{ topic, messages: [{ key: 'mine', value: 'before' }] }]);
      await first.commit();
      // Opened first, never finished: it pins the last stable offset below what follows.
      const open = await foreign.begin();
      await open.send([{ topic, messages: [{ key: 'theirs', value: 'open' }] }]);
      const later = await writer.begin();
      await later.send([{ topic, messages: [{ key: 'mine', value: 'after-open' }] }]);
      await later.commit();
      const aborted = await writer.begin();
      await aborted.send([{ topic, messages: [{ key: 'mine', value: 'aborted' }] }]);
      await aborted.abort();
      const last = await writer.begin();
      await last.send([{ topic, messages: [{ key: 'mine', value: 'latest' }] }]);
      await last.commit();
      const offsets = (await admin.fetchOffsets(topic))[0];
      expect(offsets?.lastStableOffset).toBeLessThan(offsets?.highWatermark ?? 0n);

      const started = Date.now();
      const seen: KafkaRecord[] = [];
      await client.readCommitted(topic, (record) => seen.push(record), { timeoutMs: 10_000 });
      expect(values(seen)).toEqual(['before', 'after-open', 'latest']);
      // It does not wait for the open transaction to end.
      expect(Date.now() - started).toBeLessThan(10_000);
      await open.abort();
      await Promise.allSettled([foreign.disconnect(), writer.disconnect()]);
      await admin.disconnect();
    });

    it('readCommitted reads past a compacted batch whose surviving records lie before the read position', async () => {
      const { client, admin, topic, compacts } = await setup('compacted-base');
      const compacted = `${topic}-compacted`;
      // Segments roll on the next append after 100 ms; the cleaner takes any dirty segment.
      await admin.createTopics([
        {
          topic: compacted,
          partitions: 1,
          configs: {
            'cleanup.policy': 'compact',
            'segment.ms': '100',
            'min.cleanable.dirty.ratio': '0.01',
            'min.compaction.lag.ms': '0',
          },
        },
      ]);
      const producer = client.producer();
      await producer.connect();
      const sends = [
        // One batch, offsets 0–2. Compaction keeps only a@0 but the batch's last offset (2):
        // a reader at offset 1 gets this batch back with no record at or after 1.
        [
          { key: 'a', value: 'a1' },
          { key: 'b', value: 'b1' },
          { key: 'c', value: 'c1' },
        ],
        [
          { key: 'b', value: 'b2' },
          { key: 'c', value: 'c2' },
        ],
        [{ key: 'd', value: 'd1' }],
        [{ key: 'e', value: 'e1' }],
      ];
      for (const messages of sends) {
        await producer.send([{ topic: compacted, messages }]);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      // The broker's cleaner wakes every 15 s by default: wait for it to compact.
      const deadline = Date.now() + 90_000;
      for (;;) {
        const seen: KafkaRecord[] = [];
        await client.readCommitted(compacted, (record) => seen.push(record), { timeoutMs: 5_000 });
        if (values(seen).length < 7) {
          expect(values(seen)).toEqual(['a1', 'b2', 'c2', 'd1', 'e1']);
          break;
        }
        expect(values(seen)).toEqual(['a1', 'b1', 'c1', 'b2', 'c2', 'd1', 'e1']);
        // A log that does not compact has shown it reads every record: nothing to wait for.
        if (!compacts) break;
        if (Date.now() > deadline) throw new Error(`${compacted} was not compacted within 90 s`);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      await producer.disconnect();
      await admin.disconnect();
    }, 120_000);

    it('delivers batches to a consumer group, seeks, pauses, resumes and commits offsets', async () => {
      const { client, admin, topic, timeoutMs } = await setup('group', 2);
      const producer = client.producer();
      await producer.connect();
      await producer.send([
        {
          topic,
          messages: Array.from({ length: 10 }, (_, index) => ({
            key: null,
            value: `v${index}`,
            partition: index % 2,
          })),
        },
      ]);
      const groupId = `${topic}-group`;
      const seen: KafkaRecord[] = [];
      let assigned: string[] = [];
      let seekOnce = true;
      const consumer = client.consumer({
        groupId,
        maxWaitTimeMs: 100,
        onPartitionsAssigned: (partitions) => {
          assigned = partitions.map((tp) => `${tp.topic}/${tp.partition}`);
          // Partition 1 waits until resumed.
          consumer.pause(partitions.filter((tp) => tp.partition === 1));
        },
      });
      const eachBatch = async (batch: KafkaBatch): Promise<void> => {
        for (const record of batch.records) {
          if (batch.isStale()) return;
          seen.push(record);
          batch.resolveOffset(record.offset);
        }
        if (seekOnce && batch.partition === 0) {
          // Replays partition 0 from offset 3 once.
          seekOnce = false;
          consumer.seek({ topic, partition: 0, offset: 3n });
        }
        await consumer.commitOffsets([
          {
            topic,
            partition: batch.partition,
            offset: (batch.records[batch.records.length - 1]?.offset ?? 0n) + 1n,
          },
        ]);
        await batch.heartbeat();
      };
      await consumer.connect();
      await consumer.subscribe([topic], { fromBeginning: true });
      await consumer.run({ eachBatch });
      const onPartition = (partition: number) =>
        seen.filter((record) => record.partition === partition).map((record) => text(record.value));
      await until(() => onPartition(0).length >= 7, timeoutMs, 'partition 0 and its replay');
      expect(assigned.sort()).toEqual([`${topic}/0`, `${topic}/1`]);
      expect(onPartition(0)).toEqual(['v0', 'v2', 'v4', 'v6', 'v8', 'v6', 'v8']);
      expect(onPartition(1)).toEqual([]);
      consumer.resume([{ topic, partition: 1 }]);
      await until(() => onPartition(1).length >= 5, timeoutMs, 'partition 1 after resume');
      expect(onPartition(1)).toEqual(['v1', 'v3', 'v5', 'v7', 'v9']);
      await consumer.disconnect();
      const committed = await admin.fetchCommittedOffsets(groupId, topic);
      expect(committed).toEqual([
        { partition: 0, offset: 5n },
        { partition: 1, offset: 5n },
      ]);
      await producer.disconnect();
      await admin.disconnect();
    });
  });
}
