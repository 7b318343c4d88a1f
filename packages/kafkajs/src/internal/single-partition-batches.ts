import type { KafkaTopicMessages } from '@tributary/core';

/**
 * Splits a batch into one batch per topic partition, keeping the order of each partition's
 * messages; messages without an explicit partition stay together per topic.
 *
 * Why: kafkajs 2.2.4's send retry (`producer/sendMessages.js`) remembers which brokers
 * already answered by broker object. When a connection closes, kafkajs drops that broker
 * object and a metadata refresh creates a new one for the same node, so the retry resends
 * the partitions that broker had already written — with new sequence numbers, which the
 * broker's idempotence cannot recognise: the same records twice in one transaction, on any
 * cluster of more than one broker (found by packages/faults/src/three-brokers.int.test.ts,
 * docs/operations.md). A send that addresses a single partition involves a single broker:
 * a retry then only resends a request that failed, with the sequence numbers it rolled
 * back, and the broker deduplicates it if it was written after all.
 */
export function singlePartitionBatches(
  batch: readonly KafkaTopicMessages[],
): KafkaTopicMessages[][] {
  const groups = new Map<
    string,
    { topic: string; messages: KafkaTopicMessages['messages'][number][] }
  >();
  for (const { topic, messages } of batch) {
    for (const message of messages) {
      const key = `${topic}\u0000${message.partition ?? ''}`;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { topic, messages: [] }));
      group.messages.push(message);
    }
  }
  return [...groups.values()].map((group) => [group]);
}
