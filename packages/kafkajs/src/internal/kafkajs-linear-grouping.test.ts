import { describe, expect, it } from 'vitest';
import { groupMessagesPerPartition, type GroupingInput } from './kafkajs-linear-grouping.js';

/** kafkajs 2.2.4's own grouping (src/producer/groupMessagesPerPartition.js), as reference. */
function kafkajsGrouping<M>({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: GroupingInput<M>): Record<number, M[]> {
  if (partitionMetadata.length === 0) return {};
  return messages.reduce<Record<number, M[]>>((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition] ?? [];
    return Object.assign(result, { [partition]: [...current, message] });
  }, {});
}

describe("kafkajs's message grouping in linear time", () => {
  it('returns what kafkajs returns: partitions in key order, messages in their order', () => {
    for (let round = 0; round < 50; round += 1) {
      const partitions = 1 + Math.floor(Math.random() * 8);
      const input: GroupingInput<{ id: number; partition: number }> = {
        topic: 't',
        partitionMetadata: Array.from({ length: partitions }, (_, partition) => ({ partition })),
        messages: Array.from({ length: Math.floor(Math.random() * 200) }, (_, id) => ({
          id,
          partition: Math.floor(Math.random() * partitions),
        })),
        partitioner: ({ message }) => message.partition,
      };
      const ours = groupMessagesPerPartition(input);
      expect(ours).toEqual(kafkajsGrouping(input));
      expect(Object.keys(ours)).toEqual(Object.keys(kafkajsGrouping(input)));
    }
    const none = { topic: 't', partitionMetadata: [], messages: [1], partitioner: () => 0 };
    expect(groupMessagesPerPartition(none)).toEqual({});
  });
});
