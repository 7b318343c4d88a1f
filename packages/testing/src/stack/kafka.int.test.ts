import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { useIntegrationEnv } from './integration-env.js';

const env = await useIntegrationEnv({ label: 'kafka smoke' });
const kafka = new Kafka({
  clientId: env.name('client'),
  brokers: [...env.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
afterAll(() => admin.disconnect());

/** Reads `topic` from the beginning until `last` arrives, in a fresh consumer group. */
async function readUntil(topic: string, last: string, readUncommitted: boolean): Promise<string[]> {
  const consumer = kafka.consumer({
    groupId: env.name(`reader_${readUncommitted ? 'uncommitted' : 'committed'}`),
    readUncommitted,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const values: string[] = [];
    await new Promise<void>((resolveRead, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`never saw ${last}; saw ${values.join(',')}`)),
        15_000,
      );
      consumer
        .run({
          eachMessage: ({ message }) => {
            const value = message.value?.toString() ?? '';
            values.push(value);
            if (value === last) {
              clearTimeout(timer);
              resolveRead();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
    return values;
  } finally {
    await consumer.disconnect();
  }
}

describe('the stack Kafka broker', () => {
  it('hides aborted transactions from read_committed consumers and shows them to read_uncommitted ones', async () => {
    const topic = env.topic('transactions');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId: env.name('producer'),
    });
    await producer.connect();
    try {
      const committed = await producer.transaction();
      await committed.send({ topic, messages: [{ key: 'a', value: 'committed-1' }] });
      await committed.commit();

      const aborted = await producer.transaction();
      await aborted.send({ topic, messages: [{ key: 'a', value: 'aborted-1' }] });
      await aborted.abort();

      // A last committed record tells the readers they have seen everything.
      const end = await producer.transaction();
      await end.send({ topic, messages: [{ key: 'a', value: 'committed-2' }] });
      await end.commit();
    } finally {
      await producer.disconnect();
    }

    expect(await readUntil(topic, 'committed-2', false)).toEqual(['committed-1', 'committed-2']);
    // Proves the broker really wrote the aborted records and marked them: a broker that
    // ignored transactions would show them to read_committed too, and one that dropped
    // them would not show them here.
    expect(await readUntil(topic, 'committed-2', true)).toEqual([
      'committed-1',
      'aborted-1',
      'committed-2',
    ]);
  });

  it('creates topics under the file namespace', async () => {
    const topic = env.topic('namespaced');
    await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    const topics = await admin.listTopics();
    expect(topics).toContain(topic);
    expect(topic.startsWith(env.topicPrefix)).toBe(true);
  });
});
