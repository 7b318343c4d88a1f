import type { TopicPartition } from '../types.js';

/** A group member as the assignor sees it. */
export interface AssignorMember {
  /** The member id. */
  readonly memberId: string;
  /** The topics the member subscribes to. */
  readonly topics: readonly string[];
}

/**
 * Kafka's `RangeAssignor` (the classic default): for each topic, the members subscribed
 * to it, in order, each take a contiguous range of partitions; the first
 * `partitions % members` members take one extra. Kafka orders members by member id; this
 * log orders them by join order, which is equally deterministic.
 *
 * @param members - the group's members in join order.
 * @param partitionCount - partition count of a subscribed topic.
 * @returns each member's partitions, sorted by topic then partition.
 */
export function rangeAssign(
  members: readonly AssignorMember[],
  partitionCount: (topic: string) => number,
): Map<string, TopicPartition[]> {
  const assignment = new Map<string, TopicPartition[]>(
    members.map((member) => [member.memberId, []]),
  );
  const topics = [...new Set(members.flatMap((member) => member.topics))].sort();
  for (const topic of topics) {
    const subscribers = members.filter((member) => member.topics.includes(topic));
    const partitions = partitionCount(topic);
    const perMember = Math.floor(partitions / subscribers.length);
    const withExtra = partitions % subscribers.length;
    subscribers.forEach((member, index) => {
      const start = perMember * index + Math.min(index, withExtra);
      const length = perMember + (index < withExtra ? 1 : 0);
      const owned = assignment.get(member.memberId);
      for (let partition = start; partition < start + length; partition++)
        owned?.push({ topic, partition });
    });
  }
  return assignment;
}
