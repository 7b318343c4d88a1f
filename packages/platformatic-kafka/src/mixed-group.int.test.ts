/**
 * Switching a deployment from one Kafka client to the other is a rolling restart: for a
 * while, members on kafkajs and members on @platformatic/kafka share one consumer group.
 * The broker accepts a member only if it offers a protocol every other member offers, so
 * both implementations must announce the same assignor; this proves they do and that the
 * group splits the partitions between them, every record delivered to exactly one member.
 */
import { randomUUID } from 'node:crypto';
import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import type { KafkaClient, KafkaConsumer } from '@tributary/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createPlatformaticKafkaClient } from './client.js';

const env = await useIntegrationEnv({ label: 'mixed_group' });
const platformatic: KafkaClient = createPlatformaticKafkaClient({
  clientId: 'mixed-platformatic',
  brokers: env.kafkaBrokers,
});
const kafkajs: KafkaClient = createKafkajsClient({
  clientId: 'mixed-kafkajs',
  brokers: env.kafkaBrokers,
});
const consumers: KafkaConsumer[] = [];

afterAll(async () => {
  await Promise.allSettled(consumers.map((consumer) => consumer.disconnect()));
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a consumer group with members on both Kafka clients', () => {
  it.each([
    ['kafkajs', 'platformatic'],
    ['platformatic', 'kafkajs'],
  ] as const)(
    'splits the partitions when a %s member leads and a %s member joins, each record to one of them',
    async (first, second) => {
      const topic = env.topic(`mixed.${first}.${randomUUID().slice(0, 8)}`);
      const admin = kafkajs.admin();
      await admin.connect();
      await admin.createTopics([{ topic, partitions: 4 }]);
      await admin.disconnect();
      const producer = kafkajs.producer();
      await producer.connect();
      const keys = Array.from({ length: 40 }, (_, index) => `key-${index}`);
      await producer.send([{ topic, messages: keys.map((key) => ({ key, value: key })) }]);
      await producer.disconnect();

      const groupId = `${topic}-group`;
      const assigned = new Map<string, number[]>();
      const received = new Map<string, string[]>();
      const start = async (name: string, client: KafkaClient): Promise<void> => {
        assigned.set(name, []);
        received.set(name, []);
        const consumer = client.consumer({
          groupId,
          sessionTimeoutMs: 10_000,
          heartbeatIntervalMs: 1_000,
          maxWaitTimeMs: 100,
          onPartitionsAssigned: (partitions) => {
            assigned.set(
              name,
              partitions.map(({ partition }) => partition),
            );
          },
        });
        consumers.push(consumer);
        await consumer.connect();
        await consumer.subscribe([topic], { fromBeginning: true });
        await consumer.run({
          eachBatch: async (batch) => {
            for (const record of batch.records) {
              received.get(name)?.push(Buffer.from(record.value ?? new Uint8Array()).toString());
            }
            const last = batch.records.at(-1);
            if (last !== undefined) {
              batch.resolveOffset(last.offset);
              await consumer.commitOffsets([
                { topic, partition: batch.partition, offset: last.offset + 1n },
              ]);
            }
          },
        });
      };
      const clients = { kafkajs, platformatic };
      await start(first, clients[first]);
      await until(() => (assigned.get(first) ?? []).length === 4, `${first} to own all 4`);
      await start(second, clients[second]);
      const both = (): boolean =>
        (assigned.get('kafkajs') ?? []).length > 0 &&
        (assigned.get('platformatic') ?? []).length > 0 &&
        (assigned.get('kafkajs') ?? []).length + (assigned.get('platformatic') ?? []).length === 4;
      await until(both, 'the group to split the partitions between both clients');
      const all = [...(assigned.get('kafkajs') ?? []), ...(assigned.get('platformatic') ?? [])];
      expect(all.sort()).toEqual([0, 1, 2, 3]);

      const delivered = (): string[] => [
        ...(received.get('kafkajs') ?? []),
        ...(received.get('platformatic') ?? []),
      ];
      await until(() => new Set(delivered()).size === keys.length, 'every record');
      // A record delivered before the rebalance may come again to the new owner only if its
      // offset was not committed; every batch commits before returning, so none repeats.
      expect(delivered().sort()).toEqual([...keys].sort());
    },
    120_000,
  );
});
