import { InMemoryKafkaClient, InMemoryKafkaLog } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { resolveCaptureConfig } from '../config.js';
import { isCaptureError } from '../errors.js';
import {
  partitionForKey,
  silentLogger,
  type KafkaProducer,
  type KafkaTopicMessages,
} from '@tributary/core';
import type { CaptureRecord } from '../router.js';
import { KafkaCaptureSink, producerRequests, type Outgoing } from './kafka-sink.js';

const config = resolveCaptureConfig({
  name: 'unit',
  databaseUrl: 'postgres://unused/db',
  kafka: { brokers: ['unused:9092'] },
});

const record = (aggregateId: string, version: number): CaptureRecord => ({
  topic: 'events.Account',
  key: aggregateId,
  value: Buffer.from(JSON.stringify({ version })),
  headers: { 'tributary.aggregate_version': String(version) },
  sizeBytes: 64,
  eventId: `${aggregateId}-${version}`,
});

const batch = (checkpoint: bigint, records: CaptureRecord[]) => ({
  records,
  transactions: [],
  checkpoint,
  confirmedLsn: checkpoint + 0x10n,
});

describe('KafkaCaptureSink on the Kafka client port (in-memory log)', () => {
  it('publishes records and the checkpoint in one transaction and reads the checkpoint back', async () => {
    const client = new InMemoryKafkaClient(new InMemoryKafkaLog());
    const sink = new KafkaCaptureSink({ client, config, logger: silentLogger });
    await sink.connect();
    expect(await sink.readCheckpoint()).toBeUndefined();
    await sink.publish(batch(0x100n, [record('a', 1), record('a', 2)]));
    await sink.publish(batch(0x200n, [record('b', 1)]));
    expect((await sink.readCheckpoint())?.commitLsn).toBe(0x200n);
    const events = client.log.latestByKey('events.Account');
    expect([...events.keys()].sort()).toEqual(['a', 'b']);
    const description = await client.admin().describeTopic(config.topics.checkpointTopic);
    expect(description.configs['cleanup.policy']).toBe('compact');
    await sink.close();
  });

  it('reports CAPTURE_FENCED once a newer sink with the same name connected, and its batch stays invisible', async () => {
    const client = new InMemoryKafkaClient(new InMemoryKafkaLog());
    const older = new KafkaCaptureSink({ client, config, logger: silentLogger });
    await older.connect();
    await older.publish(batch(0x100n, [record('a', 1)]));
    const newer = new KafkaCaptureSink({ client, config, logger: silentLogger });
    await newer.connect();
    const failure = await older.publish(batch(0x200n, [record('a', 2)])).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isCaptureError(failure, 'CAPTURE_FENCED')).toBe(true);
    expect((await newer.readCheckpoint())?.commitLsn).toBe(0x100n);
    await Promise.all([older.close(), newer.close()]);
  });
});

/** An in-memory client that records every request sent inside a transaction. */
class RecordingClient extends InMemoryKafkaClient {
  readonly requests: (readonly KafkaTopicMessages[])[] = [];

  override producer(...args: Parameters<InMemoryKafkaClient['producer']>): KafkaProducer {
    const producer = super.producer(...args);
    const requests = this.requests;
    return {
      connect: () => producer.connect(),
      send: (request) => producer.send(request),
      disconnect: () => producer.disconnect(),
      begin: async () => {
        const transaction = await producer.begin();
        return {
          send: (request) => {
            requests.push(request);
            return transaction.send(request);
          },
          commit: () => transaction.commit(),
          abort: () => transaction.abort(),
        };
      },
    };
  }
}

describe('KafkaCaptureSink requests', () => {
  it('gives transaction summaries an explicit partition, so every request holds one partition', async () => {
    const withSummaries = resolveCaptureConfig({
      name: 'unit',
      databaseUrl: 'postgres://unused/db',
      kafka: { brokers: ['unused:9092'] },
      topics: { transactionTopic: 'transactions' },
    });
    const client = new RecordingClient(new InMemoryKafkaLog());
    const sink = new KafkaCaptureSink({ client, config: withSummaries, logger: silentLogger });
    await sink.connect();
    const summaries = [0x100n, 0x180n, 0x1a0n, 0x1c0n].map((commitLsn, xid) => ({
      xid,
      commitLsn,
      commitTimeMicros: 1_700_000_000_000_000n,
      eventCount: 1,
    }));
    await sink.publish({
      ...batch(0x1c0n, [record('a', 1), record('b', 1)]),
      transactions: summaries,
    });
    const sent = client.requests.flatMap((request) =>
      request.filter((topic) => topic.topic === 'transactions'),
    );
    const messages = sent.flatMap((topic) => topic.messages);
    expect(messages).toHaveLength(4);
    const partitions = withSummaries.topics.partitions;
    for (const message of messages) {
      expect(message.partition).toBe(partitionForKey(String(message.key), partitions));
    }
    for (const request of client.requests) {
      const targets = request.flatMap((topic) =>
        topic.messages.map((message) => `${topic.topic}/${String(message.partition)}`),
      );
      expect(new Set(targets).size, JSON.stringify(targets)).toBe(1);
    }
    await sink.close();
  });
});

describe('producerRequests', () => {
  const item = (
    topic: string,
    partition: number | undefined,
    key: string,
    bytes: number,
  ): Outgoing => ({
    topic,
    message: { key, value: key, ...(partition === undefined ? {} : { partition }) },
    bytes,
  });

  it('cuts one request per partition (in first-seen order, each partition in its order), then by bytes, the checkpoint last', () => {
    const items = [
      item('t', 0, 'a1', 40),
      item('t', 1, 'b1', 40),
      item('u', 0, 'c1', 40),
      item('t', 0, 'a2', 40),
      item('t', 1, 'b2', 40),
      item('t', 0, 'a3', 40),
      item('checkpoints', undefined, 'cp', 10),
    ];
    const requests = producerRequests(items, 100);
    expect(requests.map((request) => request.map((entry) => entry.message.key))).toEqual([
      ['a1', 'a2'],
      ['a3'],
      ['b1', 'b2'],
      ['c1'],
      ['cp'],
    ]);
    for (const request of requests) {
      expect(
        new Set(request.map((entry) => `${entry.topic}/${String(entry.message.partition)}`)).size,
      ).toBe(1);
    }
  });
});
