import type {
  KafkaAdmin,
  KafkaCommittedOffset,
  KafkaPartitionOffsets,
  KafkaTopicDescription,
  KafkaTopicSpec,
} from '@tributary/core';
import {
  Admin,
  ConfigResourceTypes,
  FetchIsolationLevels,
  ListOffsetTimestamps,
} from '@platformatic/kafka';
import { kafkaErrorNames, requestError, translated } from './errors.js';
import type { ConnectionSettings } from './internal/connection.js';

/** How long `createTopics` waits for the new partitions' leaders. */
const LEADER_WAIT_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A {@link KafkaAdmin} on @platformatic/kafka. */
export class PlatformaticAdmin implements KafkaAdmin {
  readonly #admin: Admin;
  readonly #connection: ConnectionSettings;

  constructor(connection: ConnectionSettings) {
    this.#connection = connection;
    this.#admin = new Admin({ ...connection.base });
  }

  connect(): Promise<void> {
    return this.#connection.tlsRequired.connect(
      () =>
        translated(
          async () => {
            await this.#admin.connectToBrokers(null);
          },
          (error) => requestError(error, 'connecting the admin client'),
        ),
      'connecting the admin client',
    );
  }

  disconnect(): Promise<void> {
    return translated(
      () => this.#admin.close(),
      (error) => requestError(error, 'disconnecting the admin client'),
    );
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
        // One request per topic: the library applies one partition count and one set of
        // settings to every topic of a request.
        for (const spec of topics) {
          try {
            await this.#admin.createTopics({
              topics: [spec.topic],
              partitions: spec.partitions,
              replicas: spec.replicationFactor ?? -1,
              configs: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
            });
          } catch (error) {
            // An existing topic is left as it is, as the port says.
            if (!kafkaErrorNames(error).has('TOPIC_ALREADY_EXISTS')) throw error;
          }
        }
        await this.#waitForLeaders(topics.map((spec) => spec.topic));
      },
      (error) => requestError(error, `creating ${topics.map((spec) => spec.topic).join(', ')}`),
    );
  }

  /** CreateTopics returns before the partitions have leaders; producing needs them. */
  async #waitForLeaders(topics: readonly string[]): Promise<void> {
    const deadline = Date.now() + LEADER_WAIT_MS;
    for (;;) {
      try {
        const metadata = await this.#admin.metadata({ topics: [...topics], forceUpdate: true });
        const ready = topics.every((topic) => {
          const found = metadata.topics.get(topic);
          return (
            found !== undefined && found.partitions.every((p) => p !== undefined && p.leader >= 0)
          );
        });
        if (ready) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline)
        throw new Error(`no leaders for ${topics.join(', ')} after ${LEADER_WAIT_MS} ms`);
      await sleep(50);
    }
  }

  describeTopic(topic: string): Promise<KafkaTopicDescription> {
    return translated(
      async () => {
        const metadata = await this.#admin.metadata({ topics: [topic], forceUpdate: true });
        const [described] = await this.#admin.describeConfigs({
          resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic }],
          includeSynonyms: false,
        });
        const configs: Record<string, string | undefined> = {};
        for (const entry of described?.configs ?? [])
          configs[entry.name] = entry.value ?? undefined;
        return { topic, partitions: metadata.topics.get(topic)?.partitionsCount ?? 0, configs };
      },
      (error) => requestError(error, `describing topic ${topic}`),
    );
  }

  fetchOffsets(topic: string): Promise<KafkaPartitionOffsets[]> {
    return translated(
      async () => {
        const metadata = await this.#admin.metadata({ topics: [topic] });
        const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
        const list = async (
          timestamp: bigint,
          isolationLevel: (typeof FetchIsolationLevels)[keyof typeof FetchIsolationLevels],
        ): Promise<Map<number, bigint>> => {
          const [listed] = await this.#admin.listOffsets({
            topics: [
              {
                name: topic,
                partitions: Array.from({ length: count }, (_, partitionIndex) => ({
                  partitionIndex,
                  timestamp,
                })),
              },
            ],
            isolationLevel,
          });
          return new Map((listed?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
        };
        // LATEST read_uncommitted is the high watermark, read_committed the last stable offset.
        const earliest = await list(
          ListOffsetTimestamps.EARLIEST,
          FetchIsolationLevels.READ_UNCOMMITTED,
        );
        const high = await list(ListOffsetTimestamps.LATEST, FetchIsolationLevels.READ_UNCOMMITTED);
        const stable = await list(ListOffsetTimestamps.LATEST, FetchIsolationLevels.READ_COMMITTED);
        return Array.from({ length: count }, (_, partition) => {
          const highWatermark = high.get(partition) ?? 0n;
          return {
            partition,
            earliest: earliest.get(partition) ?? 0n,
            highWatermark,
            lastStableOffset: stable.get(partition) ?? highWatermark,
          };
        });
      },
      (error) => requestError(error, `fetching the offsets of ${topic}`),
    );
  }

  fetchCommittedOffsets(groupId: string, topic: string): Promise<KafkaCommittedOffset[]> {
    return translated(
      async () => {
        const metadata = await this.#admin.metadata({ topics: [topic] });
        const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
        const [group] = await this.#admin.listConsumerGroupOffsets({
          groups: [
            {
              groupId,
              topics: [
                { name: topic, partitionIndexes: Array.from({ length: count }, (_, i) => i) },
              ],
            },
          ],
        });
        const committed = new Map(
          (group?.topics.find((found) => found.name === topic)?.partitions ?? []).map((p) => [
            p.partitionIndex,
            p.committedOffset,
          ]),
        );
        return Array.from({ length: count }, (_, partition) => {
          const offset = committed.get(partition);
          // Kafka reports "never committed" as -1.
          return { partition, offset: offset === undefined || offset < 0n ? null : offset };
        });
      },
      (error) => requestError(error, `fetching the offsets of group ${groupId}`),
    );
  }
}
