/**
 * What the contract suite leaves to each implementation and this one does itself: dropping
 * aborted transactions in the consumer's own fetch loop, and delivering a batch again after
 * its handler threw.
 */
import { randomUUID } from 'node:crypto';
import { useIntegrationEnv } from '@tributary/testing';
import type { KafkaBatch, KafkaClient } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { createPlatformaticKafkaClient } from './client.js';

const env = await useIntegrationEnv({ label: 'platformatic_consumer' });
const client: KafkaClient = createPlatformaticKafkaClient({
  clientId: 'platformatic-consumer',
  brokers: env.kafkaBrokers,
});

const text = (bytes: Uint8Array | null): string =>
  bytes === null ? '' : Buffer.from(bytes).toString('utf8');

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function freshTopic(name: string): Promise<string> {
  const topic = env.topic(`${name}.${randomUUID().slice(0, 8)}`);
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics([{ topic, partitions: 1 }]);
  await admin.disconnect();
  return topic;
}

describe('@platformatic/kafka consumer', () => {
  it('skips every aborted transaction of one transactional id, committed ones in between kept', async () => {
    const topic = await freshTopic('aborts');
    const producer = client.producer({ transactionalId: `${topic}-tx` });
    await producer.connect();
    for (const [index, outcome] of ['abort', 'commit', 'abort', 'abort', 'commit'].entries()) {
      const transaction = await producer.begin();
      await transaction.send([
        {
          topic,
          messages: [
            { key: 'k', value: `${outcome}-${index}` },
            { key: 'k', value: `${outcome}-${index}b` },
          ],
        },
      ]);
      await (outcome === 'commit' ? transaction.commit() : transaction.abort());
    }
    await producer.disconnect();
    const seen: string[] = [];
    let lastOffset = -1n;
    const consumer = client.consumer({ groupId: `${topic}-group`, maxWaitTimeMs: 100 });
    await consumer.connect();
    await consumer.subscribe([topic], { fromBeginning: true });
    await consumer.run({
      eachBatch: (batch) => {
        for (const record of batch.records) seen.push(text(record.value));
        lastOffset = batch.lastOffset;
        const last = batch.records[batch.records.length - 1];
        if (last !== undefined) batch.resolveOffset(last.offset);
        return Promise.resolve();
      },
    });
    await until(() => seen.length >= 4, 'the committed records');
    await consumer.disconnect();
    expect(seen).toEqual(['commit-1', 'commit-1b', 'commit-4', 'commit-4b']);
    // 5 transactions of 2 records and a marker each: the last batch covers offset 14.
    expect(lastOffset).toBe(14n);
  });

  it('delivers the unresolved records of a batch again after its handler threw', async () => {
    const topic = await freshTopic('redelivery');
    const producer = client.producer();
    await producer.connect();
    await producer.send([
      { topic, messages: ['a', 'b', 'c'].map((value) => ({ key: null, value })) },
    ]);
    await producer.disconnect();
    const deliveries: string[][] = [];
    let failed = false;
    const consumer = client.consumer({ groupId: `${topic}-group`, maxWaitTimeMs: 100 });
    await consumer.connect();
    await consumer.subscribe([topic], { fromBeginning: true });
    await consumer.run({
      eachBatch: (batch: KafkaBatch) => {
        deliveries.push(batch.records.map((record) => text(record.value)));
        const first = batch.records[0];
        if (!failed && first !== undefined) {
          // Only "a" is processed before the failure.
          failed = true;
          batch.resolveOffset(first.offset);
          return Promise.reject(new Error('handler failed'));
        }
        const last = batch.records[batch.records.length - 1];
        if (last !== undefined) batch.resolveOffset(last.offset);
        return Promise.resolve();
      },
    });
    await until(() => deliveries.length >= 2, 'the second delivery');
    await consumer.disconnect();
    expect(deliveries.slice(0, 2)).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c'],
    ]);
  });
});
