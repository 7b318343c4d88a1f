/**
 * The Kafka client port: the few Kafka operations Tributary needs, with no library's types.
 * The capture sink and the projection runtime are written against it; `@tributary/kafkajs`
 * implements it on kafkajs and `@tributary/testing`'s `InMemoryKafkaClient` on the
 * in-memory log, and both pass the same contract suite (`describeKafkaClientContract`).
 *
 * Offsets are `bigint` (Kafka's int64), never strings or floats. Keys, values and headers
 * are sent as text or bytes and consumed as bytes (a Node `Buffer` is a `Uint8Array`).
 * Consumers always read `read_committed` and never create topics; producers are always
 * idempotent with acknowledgements from all in-sync replicas.
 *
 * Failures: fencing is a `KafkaProducerFencedError` (`retriable: false`); a producer
 * call whose outcome is unknown is a `KafkaIndeterminateError` (`retriable: true`:
 * replace the producer and redo the work from the last durable checkpoint); anything else
 * is a `KafkaClientError`.
 */
import type { RawHeaders } from '../record-format.js';

/** Text (sent as UTF-8) or bytes. */
export type KafkaBytes = string | Uint8Array;

/** A record to produce. */
export interface KafkaMessage {
  /** Partitioning key (Kafka's murmur2 partitioner); `null` spreads records over partitions. */
  readonly key: KafkaBytes | null;
  /** The value; `null` is a tombstone on compacted topics. */
  readonly value: KafkaBytes | null;
  /** Headers; one value per name. */
  readonly headers?: Readonly<Record<string, KafkaBytes>>;
  /** Explicit partition, overriding the key. */
  readonly partition?: number;
}

/** Records for one topic, kept in this order per partition. */
export interface KafkaTopicMessages {
  readonly topic: string;
  readonly messages: readonly KafkaMessage[];
}

/** A consumed record. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  /** As received; read them with `headerValue` of `@tributary/core`. */
  readonly headers: RawHeaders;
}

/** A topic-partition pair. */
export interface KafkaTopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** A topic-partition with an offset (for commits: the next offset to read, as in Kafka). */
export interface KafkaTopicPartitionOffset extends KafkaTopicPartition {
  readonly offset: bigint;
}

/** Options of {@link KafkaClient.producer}. */
export interface KafkaProducerOptions {
  /**
   * Makes the producer transactional. A stable id per logical writer lets a restarted
   * instance fence its predecessor: `connect` aborts what the older one left open.
   */
  readonly transactionalId?: string;
  /** Transaction timeout given to the broker. Default: the implementation's. */
  readonly transactionTimeoutMs?: number;
  /** Compression of produced batches. Default `none`. */
  readonly compression?: 'none' | 'gzip';
  /** Retries of a failed request before the call fails. Default: the implementation's. */
  readonly retry?: {
    /** First delay, doubled on each retry. */
    readonly initialMs?: number;
    readonly retries?: number;
  };
}

/** An open transaction of a transactional producer. */
export interface KafkaTransaction {
  /** Sends records inside the transaction; invisible to `read_committed` until commit. */
  send(batch: readonly KafkaTopicMessages[]): Promise<void>;
  /** Makes every record of the transaction visible at once. */
  commit(): Promise<void>;
  /** Discards the transaction's records. */
  abort(): Promise<void>;
}

/** An idempotent producer, transactional when created with a `transactionalId`. */
export interface KafkaProducer {
  /** Connects; for a transactional producer this fences older instances with the same id. */
  connect(): Promise<void>;
  /** Sends records outside any transaction (non-transactional producers only). */
  send(batch: readonly KafkaTopicMessages[]): Promise<void>;
  /** Begins a transaction; one at a time. */
  begin(): Promise<KafkaTransaction>;
  /** Disconnects. An open transaction is not aborted: the next instance aborts it. */
  disconnect(): Promise<void>;
}

/** Called with the partitions of a rebalance. Synchronous: it runs before the next fetch. */
export type KafkaRebalanceListener = (partitions: readonly KafkaTopicPartition[]) => void;

/** Options of {@link KafkaClient.consumer}. */
export interface KafkaConsumerOptions {
  /** The consumer group. */
  readonly groupId: string;
  /** Group session timeout. Default: the implementation's. */
  readonly sessionTimeoutMs?: number;
  /** Heartbeat interval. Default: the implementation's. */
  readonly heartbeatIntervalMs?: number;
  /** Longest a fetch waits for new records. Default: the implementation's. */
  readonly maxWaitTimeMs?: number;
  /**
   * Runs after each rebalance with this member's new assignment, before any batch of it is
   * delivered. It may `pause` partitions (e.g. until a `seek` to an externally stored
   * position is in place).
   */
  readonly onPartitionsAssigned?: KafkaRebalanceListener;
  /** Runs when the partitions of the current assignment are given up (rebalance or disconnect). */
  readonly onPartitionsRevoked?: KafkaRebalanceListener;
}

/** One fetched batch of one partition, handed to a {@link KafkaBatchHandler}. */
export interface KafkaBatch extends KafkaTopicPartition {
  /** The visible records in offset order; never empty. */
  readonly records: readonly KafkaRecord[];
  /**
   * Offset of the last log entry the fetch covered, including transaction markers and
   * aborted records that `read_committed` hides after the last record.
   */
  readonly lastOffset: bigint;
  /** The partition's high watermark at fetch time. */
  readonly highWatermark: bigint;
  /**
   * Marks the records up to `offset` (inclusive) as processed: after a handler failure or a
   * restart of the consumer, consumption resumes after it. Resolving the last record also
   * resolves the markers after it ({@link lastOffset}). Unresolved records are delivered again.
   */
  resolveOffset(offset: bigint): void;
  /** Keeps the group membership alive during long handlers. */
  heartbeat(): Promise<void>;
  /** False once the consumer stops. */
  isRunning(): boolean;
  /** True once a `seek` on this partition made the rest of the batch obsolete. */
  isStale(): boolean;
}

/** Offsets of one partition that held only entries `read_committed` hides (inclusive). */
export interface KafkaHiddenEntries extends KafkaTopicPartition {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
}

/** Processes one batch; a throw makes the consumer deliver the unresolved records again. */
export type KafkaBatchHandler = (batch: KafkaBatch) => Promise<void>;

/** Options of {@link KafkaConsumer.run}. */
export interface KafkaRunOptions {
  readonly eachBatch: KafkaBatchHandler;
  /**
   * Called (not awaited) when a fetch of a partition held only entries `read_committed`
   * hides — transaction markers, aborted records — so `eachBatch` is not called for it.
   * A consumer that keeps its own positions (a database checkpoint) may move past
   * `firstOffset`…`lastOffset`: no record is there. Without it, a partition whose log ends
   * in such entries never shows its position at the end offset.
   */
  readonly onHiddenEntries?: (range: KafkaHiddenEntries) => void;
  /** Batches of different partitions handled at the same time. Default 1. */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * Called once when the consumer stopped for good in the background on an error no retry
   * can heal — a `KafkaSecurityError` (the group's ACL, the credentials); it delivers
   * nothing more. Without it such a consumer would stop silently (or retry forever).
   * Failures while starting reject {@link KafkaConsumer.run} instead.
   */
  readonly onFatalError?: (error: Error) => void;
}

/**
 * A `read_committed` consumer-group member. Offsets are committed only by
 * {@link commitOffsets}; positions come from the group's committed offsets, else the
 * subscription's `fromBeginning`, unless a `seek` says otherwise.
 */
export interface KafkaConsumer {
  connect(): Promise<void>;
  /** Subscribes to existing topics (call before `run`). */
  subscribe(
    topics: readonly string[],
    options?: { readonly fromBeginning?: boolean },
  ): Promise<void>;
  /** Starts delivering batches in the background; resolves once started. */
  run(options: KafkaRunOptions): Promise<void>;
  /** Moves the position of an assigned partition; the next batch of it starts there. */
  seek(position: KafkaTopicPartitionOffset): void;
  /** Stops fetching the partitions until {@link resume}. */
  pause(partitions: readonly KafkaTopicPartition[]): void;
  resume(partitions: readonly KafkaTopicPartition[]): void;
  /** Commits offsets for the group (offset = next record to read). */
  commitOffsets(offsets: readonly KafkaTopicPartitionOffset[]): Promise<void>;
  /** Waits for the batches in flight, then leaves the group (a prompt rebalance). */
  disconnect(): Promise<void>;
}

/** A topic to create. */
export interface KafkaTopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** -1 or absent: the broker default. */
  readonly replicationFactor?: number;
  /** Topic-level settings such as `cleanup.policy` or `retention.ms`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/** A topic as the broker describes it. */
export interface KafkaTopicDescription {
  readonly topic: string;
  /** Number of partitions. */
  readonly partitions: number;
  /** The topic's effective settings (`name → value`), defaults included where the broker reports them. */
  readonly configs: Readonly<Record<string, string | undefined>>;
}

/** The offsets of one partition. */
export interface KafkaPartitionOffsets {
  readonly partition: number;
  /** First offset still in the log. */
  readonly earliest: bigint;
  /** Offset the next appended record gets: where `read_uncommitted` readers end. */
  readonly highWatermark: bigint;
  /**
   * First offset of the earliest open transaction, else the high watermark: where
   * `read_committed` readers end (an open transaction hides everything after it).
   */
  readonly lastStableOffset: bigint;
}

/** A group's committed offset of one partition; `null` when it never committed one. */
export interface KafkaCommittedOffset {
  readonly partition: number;
  readonly offset: bigint | null;
}

/** The admin calls Tributary needs. */
export interface KafkaAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Topic names. */
  listTopics(): Promise<string[]>;
  /** Creates topics and waits for their leaders; topics that already exist are left as they are. */
  createTopics(topics: readonly KafkaTopicSpec[]): Promise<void>;
  /** Partition count and settings of a topic. @throws KafkaClientError `KAFKA_UNKNOWN_TOPIC` */
  describeTopic(topic: string): Promise<KafkaTopicDescription>;
  /** Earliest offset, high watermark and last stable offset of every partition, by partition. */
  fetchOffsets(topic: string): Promise<KafkaPartitionOffsets[]>;
  /** A group's committed offsets for every partition of a topic, by partition. */
  fetchCommittedOffsets(groupId: string, topic: string): Promise<KafkaCommittedOffset[]>;
}

/** Options of {@link KafkaClient.readCommitted}. */
export interface KafkaReadOptions {
  /** Give up (with a `KafkaIndeterminateError`) after this long. Default 30,000 ms. */
  readonly timeoutMs?: number;
}

/** A Kafka client: a factory of producers, consumers and admins on one cluster. */
export interface KafkaClient {
  producer(options?: KafkaProducerOptions): KafkaProducer;
  consumer(options: KafkaConsumerOptions): KafkaConsumer;
  admin(): KafkaAdmin;
  /**
   * Reads every record of a topic that is committed at call time, from the earliest offsets
   * up to the high watermarks, outside any consumer group, calling `onRecord` in offset
   * order per partition. Records of aborted transactions and of transactions still open
   * are left out, but, unlike a `read_committed` consumer, which stops at the last stable
   * offset, another producer's open transaction does NOT hide the committed records after
   * it: the latest committed value of a key is returned at once. Meant for small compacted
   * topics such as the capture checkpoints.
   */
  readCommitted(
    topic: string,
    onRecord: (record: KafkaRecord) => void,
    options?: KafkaReadOptions,
  ): Promise<void>;
}
