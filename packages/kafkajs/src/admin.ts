import { createRequire } from 'node:module';
import {
  type KafkaAdmin,
  type KafkaCommittedOffset,
  type KafkaPartitionOffsets,
  type KafkaTopicDescription,
  type KafkaTopicSpec,
} from '@tributary/core';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { requestError, translated } from './errors.js';
import type { KafkajsBrokerConnection } from './internal/batch-fetch.js';
import {
  checkedConnect,
  noConnectFailureCheck,
  type ConnectFailureCheck,
} from './internal/tls-required.js';

// Not among the named exports Node detects in kafkajs's CommonJS build.
const { ConfigResourceTypes } = kafkajs;

const require = createRequire(import.meta.url);

/** How long createTopics waits for the new partitions to have leaders. */
const LEADER_WAIT_MS = 30_000;

/** The parts of kafkajs's internal Cluster used to read high watermarks and raw records. */
export interface KafkajsCluster {
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(node: { nodeId: string }): Promise<KafkajsBrokerConnection>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number }[];
  fetchTopicsOffset(
    topics: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

/** kafkajs's code of the read_uncommitted isolation level. */
export const READ_UNCOMMITTED = (
  require('kafkajs/src/protocol/isolationLevel.js') as Record<string, number>
)['READ_UNCOMMITTED'];

/**
 * kafkajs's admin lists offsets `read_committed` only (its `high` is the last stable
 * offset). The high watermark needs a read_uncommitted ListOffsets, which only its internal
 * cluster factory can make; kafkajs 2.2.4 is the last release, so this cannot move.
 */
export function uncommittedCluster(kafka: Kafka): KafkajsCluster {
  const factory = Object.getOwnPropertySymbols(kafka).find(
    (symbol) => symbol.description === 'private:Kafka:createCluster',
  );
  const create = (
    factory === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[factory]
  ) as ((options: object) => KafkajsCluster) | undefined;
  if (create === undefined) throw new Error('kafkajs has no cluster factory: not kafkajs 2.2.x?');
  return create.call(kafka, { allowAutoTopicCreation: false, isolationLevel: READ_UNCOMMITTED });
}

/** A {@link KafkaAdmin} on kafkajs. */
export class KafkajsAdmin implements KafkaAdmin {
  readonly #kafka: Kafka;
  readonly #admin: Admin;
  readonly #checkConnect: ConnectFailureCheck;
  #cluster: KafkajsCluster | undefined;

  constructor(kafka: Kafka, checkConnect: ConnectFailureCheck = noConnectFailureCheck) {
    this.#kafka = kafka;
    this.#admin = kafka.admin();
    this.#checkConnect = checkConnect;
  }

  connect(): Promise<void> {
    return checkedConnect(
      () =>
        translated(
          () => this.#admin.connect(),
          (error) => requestError(error, 'connecting the admin client'),
        ),
      this.#checkConnect,
      'connecting the admin client',
    );
  }

  async disconnect(): Promise<void> {
    const cluster = this.#cluster;
    this.#cluster = undefined;
    await Promise.all([this.#admin.disconnect(), cluster?.disconnect()]);
  }

  listTopics(): Promise<string[]> {
    return translated(
      () => this.#admin.listTopics(),
      (error) => requestError(error, 'listing topics'),
    );
  }

  createTopics(topics: readonly KafkaTopicSpec[]): Promise<void> {
    return translated(
      async () => {
        // Resolves false (no error) when every topic already exists. kafkajs's own leader
        // wait fails at once with UNKNOWN_TOPIC_OR_PARTITION when the broker it asks has not
        // yet learned of the new topic (KRaft propagates metadata asynchronously): wait here.
        await this.#admin.createTopics({
          waitForLeaders: false,
          topics: topics.map((spec) => ({
            topic: spec.topic,
            numPartitions: spec.partitions,
            replicationFactor: spec.replicationFactor ?? -1,
            configEntries: Object.entries(spec.configs ?? {}).map(([name, value]) => ({
              name,
              value,
            })),
          })),
        });
        await this.#waitForLeaders(topics.map((spec) => spec.topic));
      },
      (error) => requestError(error, `creating ${topics.map((spec) => spec.topic).join(', ')}`),
    );
  }

  /** Until every partition of `topics` has a leader, or LEADER_WAIT_MS passed. */
  async #waitForLeaders(topics: readonly string[]): Promise<void> {
    const deadline = Date.now() + LEADER_WAIT_MS;
    for (;;) {
      try {
        const metadata = await this.#admin.fetchTopicMetadata({ topics: [...topics] });
        const ready = topics.every((topic) => {
          const found = metadata.topics.find((described) => described.name === topic);
          return (
            found !== undefined &&
            found.partitions.length > 0 &&
            found.partitions.every((partition) => partition.leader >= 0)
          );
        });
        if (ready) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline)
        throw new Error(`no leaders for ${topics.join(', ')} after ${LEADER_WAIT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  describeTopic(topic: string): Promise<KafkaTopicDescription> {
    return translated(
      async () => {
        const metadata = await this.#admin.fetchTopicMetadata({ topics: [topic] });
        const described = await this.#admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
        });
        const configs: Record<string, string> = {};
        for (const entry of described.resources[0]?.configEntries ?? []) {
          configs[entry.configName] = entry.configValue;
        }
        return {
          topic,
          partitions: metadata.topics.find((found) => found.name === topic)?.partitions.length ?? 0,
          configs,
        };
      },
      (error) => requestError(error, `describing topic ${topic}`),
    );
  }

  fetchOffsets(topic: string): Promise<KafkaPartitionOffsets[]> {
    return translated(
      async () => {
        const committed = await this.#admin.fetchTopicOffsets(topic);
        const cluster = await this.#uncommitted();
        await cluster.addTargetTopic(topic);
        await cluster.refreshMetadataIfNecessary();
        const partitions = cluster
          .findTopicPartitionMetadata(topic)
          .map((metadata) => ({ partition: metadata.partitionId }));
        const [ends] = await cluster.fetchTopicsOffset([
          { topic, fromBeginning: false, partitions },
        ]);
        const highWatermarks = new Map(
          (ends?.partitions ?? []).map(({ partition, offset }) => [partition, BigInt(offset)]),
        );
        return committed
          .map((offsets) => {
            const lastStableOffset = BigInt(offsets.high);
            return {
              partition: offsets.partition,
              earliest: BigInt(offsets.low),
              highWatermark: highWatermarks.get(offsets.partition) ?? lastStableOffset,
              lastStableOffset,
            };
          })
          .sort((a, b) => a.partition - b.partition);
      },
      (error) => requestError(error, `fetching the offsets of ${topic}`),
    );
  }

  fetchCommittedOffsets(groupId: string, topic: string): Promise<KafkaCommittedOffset[]> {
    return translated(
      async () => {
        const [found] = await this.#admin.fetchOffsets({ groupId, topics: [topic] });
        return (found?.partitions ?? [])
          .map(({ partition, offset }) => ({
            partition,
            // kafkajs reports "never committed" as -1.
            offset: BigInt(offset) < 0n ? null : BigInt(offset),
          }))
          .sort((a, b) => a.partition - b.partition);
      },
      (error) => requestError(error, `fetching the offsets of group ${groupId}`),
    );
  }

  async #uncommitted(): Promise<KafkajsCluster> {
    if (this.#cluster === undefined) {
      const cluster = uncommittedCluster(this.#kafka);
      await cluster.connect();
      this.#cluster = cluster;
    }
    return this.#cluster;
  }
}
