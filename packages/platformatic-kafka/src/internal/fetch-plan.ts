import type { ClusterMetadata, FetchOptions } from '@platformatic/kafka';

/** One topic of a Fetch request (the library exports the type only under a namespace). */
type FetchRequestTopic = FetchOptions<Buffer, Buffer, Buffer, Buffer>['topics'][number];

/** A partition to fetch from `offset`. */
export interface FetchTarget {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

/** Fetch requests grouped by the leader that serves them. */
export interface FetchPlan {
  readonly byLeader: Map<number, FetchRequestTopic[]>;
  /** Fetch responses name topics by id. */
  readonly topicNames: Map<string, string>;
  /** The targets that have a known leader (the others wait for fresher metadata). */
  readonly planned: FetchTarget[];
}

/** Groups `targets` by partition leader, as Fetch requests go to the leader. */
export function planFetches(
  targets: readonly FetchTarget[],
  metadata: ClusterMetadata,
  maxBytesPerPartition: number,
): FetchPlan {
  const byLeader = new Map<number, FetchRequestTopic[]>();
  const topicNames = new Map<string, string>();
  const planned: FetchTarget[] = [];
  for (const target of targets) {
    const topicMetadata = metadata.topics.get(target.topic);
    const leader = topicMetadata?.partitions[target.partition]?.leader;
    if (topicMetadata === undefined || leader === undefined || leader < 0) continue;
    planned.push(target);
    topicNames.set(topicMetadata.id, target.topic);
    const requests = byLeader.get(leader) ?? [];
    byLeader.set(leader, requests);
    requests.push({
      topicId: topicMetadata.id,
      partitions: [
        {
          partition: target.partition,
          fetchOffset: target.offset,
          // Unknown epochs: the broker skips its leader-epoch fencing checks.
          currentLeaderEpoch: -1,
          lastFetchedEpoch: -1,
          partitionMaxBytes: maxBytesPerPartition,
        },
      ],
    });
  }
  return { byLeader, topicNames, planned };
}
