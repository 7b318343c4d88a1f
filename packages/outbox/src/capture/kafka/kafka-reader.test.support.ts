/**
 * Test support: a read_committed reader of Kafka topics that keeps every record it sees,
 * so tests can assert exactly-once delivery and per-partition order. Not part of the API.
 */
import { randomUUID } from 'node:crypto';
import { headerValue, type KafkaRecord } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';

/** A record as the reader saw it. */
export interface SeenRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string;
  readonly value: string;
  /** The value as sent (binary formats such as Avro do not survive `value`'s UTF-8). */
  readonly valueBytes: Buffer;
  readonly headers: Record<string, string>;
}

/** A running reader. */
export interface TopicReader {
  readonly records: SeenRecord[];
  /** Waits until `predicate(records)` holds; throws with `describe()` after `timeoutMs`. */
  waitFor(
    predicate: (records: readonly SeenRecord[]) => boolean,
    timeoutMs: number,
    describe?: () => string,
  ): Promise<void>;
  stop(): Promise<void>;
}

/** Waits until all `topics` exist, then reads them from the beginning with read_committed. */
export async function readTopics(
  brokers: readonly string[],
  topics: readonly string[],
): Promise<TopicReader> {
  const kafka = createKafkajsClient({ clientId: 'test-reader', brokers });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const existing = new Set(await admin.listTopics());
      if (topics.every((topic) => existing.has(topic))) break;
      if (Date.now() > deadline) throw new Error(`topics never appeared: ${topics.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, maxWaitTimeMs: 100 });
  await consumer.connect();
  await consumer.subscribe(topics, { fromBeginning: true });
  const records: SeenRecord[] = [];
  // A rebalance may hand the reader the same offsets again; those are not duplicates made
  // by the capturer (which would sit at other offsets), so they are dropped here.
  const positions = new Set<string>();
  const text = (bytes: Uint8Array | null): string =>
    bytes === null ? '' : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString();
  const seen = (record: KafkaRecord): SeenRecord => {
    const headers: Record<string, string> = {};
    for (const name of Object.keys(record.headers)) {
      const value = headerValue(record.headers, name);
      if (value !== undefined) headers[name] = value;
    }
    const value = record.value;
    return {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: text(record.key),
      value: text(value),
      valueBytes:
        value === null
          ? Buffer.alloc(0)
          : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
      headers,
    };
  };
  await consumer.run({
    eachBatch: (batch) => {
      for (const record of batch.records) {
        const position = `${record.topic}/${record.partition}/${record.offset}`;
        if (positions.has(position)) continue;
        positions.add(position);
        records.push(seen(record));
      }
      const last = batch.records[batch.records.length - 1];
      if (last !== undefined) batch.resolveOffset(last.offset);
      return Promise.resolve();
    },
  });
  return {
    records,
    async waitFor(predicate, timeoutMs, describe) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(records)) {
        if (Date.now() > deadline) {
          throw new Error(
            `reader timed out after ${timeoutMs} ms: ${describe?.() ?? `${records.length} records`}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop: () => consumer.disconnect(),
  };
}
