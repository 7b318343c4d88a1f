import { InMemoryConsumer, type ConsumerOptions } from './consumer.js';
import { Broker } from './internal/broker.js';
import { InMemoryProducer, type ProducerOptions } from './producer.js';
import type {
  CommittedPartitionOffset,
  FetchResult,
  IsolationLevel,
  LogRecord,
  PartitionOffset,
  PartitionWatermarks,
  TopicConfig,
  TopicDescription,
  TopicPartition,
} from './types.js';

/** Options of `InMemoryKafkaLog`. */
export interface InMemoryKafkaLogOptions {
  /** Largest accepted record (key + value + headers), default 1 MiB like Kafka's `message.max.bytes`. */
  readonly maxMessageBytes?: number;
  /** Clock for record timestamps (epoch ms); default `Date.now`. Inject a fixed clock for deterministic tests. */
  readonly now?: () => number;
}

/** Options of `InMemoryKafkaLog.fetch`. */
export interface FetchOptions {
  /** Default `'read_committed'`. */
  readonly isolationLevel?: IsolationLevel;
  /** Most records to return; default unlimited. */
  readonly maxRecords?: number;
}

/** Options of the offset and key queries that depend on isolation. */
export interface IsolationOptions {
  /** Which records count; the default is given by each method. */
  readonly isolationLevel?: IsolationLevel;
}

/** One member of a consumer group, as `describeGroup` reports it. */
export interface GroupMemberDescription {
  /** The member id. */
  readonly memberId: string;
  /** The member's subscribed topics. */
  readonly topics: readonly string[];
  /** The partitions the current generation assigns to the member. */
  readonly assignment: readonly TopicPartition[];
}

/** A consumer group's coordinator view. */
export interface GroupDescription {
  /** The group id. */
  readonly groupId: string;
  /** Bumped on every rebalance; 0 if nobody ever joined. */
  readonly generation: number;
  /** Current members in join order. */
  readonly members: readonly GroupMemberDescription[];
}

/** The default `maxMessageBytes`: Kafka's default `message.max.bytes`, rounded to 1 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_576;

/**
 * An in-memory, single-process stand-in for a Kafka cluster: topics with partitions,
 * contiguous per-partition offsets from 0, Kafka's murmur2 key partitioning,
 * transactions with control markers, the last stable offset and `read_committed`
 * visibility, producer fencing by transactional id, and consumer groups with committed
 * offsets and range assignment.
 *
 * Everything is synchronous underneath and deterministic: no timers, no background
 * threads, no randomness. Nothing is ever deleted, so the earliest offset is always 0 and
 * compacted topics keep every record (use `latestByKey` for the compacted view).
 */
export class InMemoryKafkaLog {
  private readonly broker: Broker;

  /** @param options - record size limit and clock. */
  constructor(options: InMemoryKafkaLogOptions = {}) {
    this.broker = new Broker(
      options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      options.now ?? Date.now,
    );
  }

  /**
   * Creates a topic. Topics are never created implicitly, so a typo in a topic name fails
   * loudly instead of silently writing somewhere else.
   *
   * @throws TopicAlreadyExistsError, InvalidPartitionsError
   */
  createTopic(name: string, config: TopicConfig): void {
    this.broker.createTopic(name, config);
  }

  /** Topic names, sorted. */
  listTopics(): string[] {
    return this.broker.listTopics();
  }

  /**
   * A topic's settings.
   *
   * @throws UnknownTopicError
   */
  describeTopic(name: string): TopicDescription {
    const topic = this.broker.topic(name);
    return {
      name: topic.name,
      partitions: topic.partitions.length,
      cleanupPolicy: topic.cleanupPolicy,
    };
  }

  /**
   * The partition numbers of a topic, `0..n-1`.
   *
   * @throws UnknownTopicError
   */
  partitionsFor(topic: string): number[] {
    return this.broker.topic(topic).partitions.map((partition) => partition.partition);
  }

  /** A new producer; transactional if `transactionalId` is given. */
  producer(options: ProducerOptions = {}): InMemoryProducer {
    return new InMemoryProducer(this.broker, options);
  }

  /** A new consumer-group member; it joins the group on `subscribe`. */
  consumer(options: ConsumerOptions): InMemoryConsumer {
    return new InMemoryConsumer(this.broker, options);
  }

  /**
   * Reads one partition directly from `offset`, outside any group (Kafka's Fetch).
   * Useful for assertions and for reading a checkpoint topic.
   *
   * @throws UnknownTopicError, OffsetOutOfRangeError (offset negative or past the high watermark)
   */
  fetch(topic: string, partition: number, offset: number, options: FetchOptions = {}): FetchResult {
    return this.broker.fetch(
      topic,
      partition,
      offset,
      options.isolationLevel ?? 'read_committed',
      options.maxRecords ?? Number.POSITIVE_INFINITY,
    );
  }

  /**
   * Earliest offset, high watermark and last stable offset of every partition, for lag tooling.
   *
   * @throws UnknownTopicError
   */
  watermarks(topic: string): PartitionWatermarks[] {
    return this.broker.topic(topic).partitions.map((partition) => ({
      partition: partition.partition,
      earliestOffset: 0,
      highWatermark: partition.highWatermark,
      lastStableOffset: partition.lastStableOffset,
    }));
  }

  /**
   * The earliest offset of every partition (always 0: nothing is deleted).
   *
   * @throws UnknownTopicError
   */
  earliestOffsets(topic: string): PartitionOffset[] {
    return this.broker
      .topic(topic)
      .partitions.map((partition) => ({ partition: partition.partition, offset: 0 }));
  }

  /**
   * The end offset of every partition as Kafka's ListOffsets(LATEST) reports it: the high
   * watermark for `read_uncommitted` (the default, as for Kafka's admin client) and the
   * last stable offset for `read_committed`.
   *
   * @throws UnknownTopicError
   */
  endOffsets(topic: string, options: IsolationOptions = {}): PartitionOffset[] {
    const committedOnly = options.isolationLevel === 'read_committed';
    return this.broker.topic(topic).partitions.map((partition) => ({
      partition: partition.partition,
      offset: committedOnly ? partition.lastStableOffset : partition.highWatermark,
    }));
  }

  /**
   * The group's committed offset (next record to read) for every partition of a topic;
   * `null` where it never committed. Offsets outlive the group's members, as in Kafka.
   *
   * @throws UnknownTopicError
   */
  committedOffsets(groupId: string, topic: string): CommittedPartitionOffset[] {
    return this.broker.topic(topic).partitions.map((partition) => ({
      partition: partition.partition,
      offset: this.broker.committedOffset(groupId, topic, partition.partition),
    }));
  }

  /** The group's generation, members and current assignment. */
  describeGroup(groupId: string): GroupDescription {
    const group = this.broker.group(groupId);
    return {
      groupId,
      generation: group.generation,
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        topics: [...member.topics],
        assignment: (group.assignment.get(member.memberId) ?? []).map((assigned) => ({
          ...assigned,
        })),
      })),
    };
  }

  /**
   * Every record of a partition committed now, up to the high watermark, past open
   * transactions (what the port's `readCommitted` returns).
   *
   * @throws UnknownTopicError
   */
  committedRecords(topic: string, partition: number): LogRecord[] {
    return this.broker.committedRecords(topic, partition);
  }

  /**
   * The compacted view of a topic: the last visible record per key over all partitions,
   * with keys whose last record is a tombstone (`null` value) removed. This is what a
   * reader of a compacted checkpoint topic relies on; default `read_committed` so an
   * aborted or still-open checkpoint is never returned.
   *
   * @throws UnknownTopicError
   */
  latestByKey(topic: string, options: IsolationOptions = {}): Map<string, LogRecord> {
    const isolationLevel = options.isolationLevel ?? 'read_committed';
    const latest = new Map<string, LogRecord>();
    for (const partition of this.partitionsFor(topic)) {
      const { records } = this.broker.fetch(
        topic,
        partition,
        0,
        isolationLevel,
        Number.POSITIVE_INFINITY,
      );
      for (const record of records) {
        if (record.key === null) continue;
        if (record.value === null) latest.delete(record.key);
        else latest.set(record.key, record);
      }
    }
    return latest;
  }
}
