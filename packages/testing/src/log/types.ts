/**
 * Record, message and option types of the in-memory Kafka-like log. Names follow Kafka
 * and kafkajs so the same vocabulary works against a real broker.
 */

/**
 * Which records a reader sees. `read_committed` (the kafkajs default, and the level the
 * projection runtime uses) stops at the last stable offset and hides aborted records;
 * `read_uncommitted` reads up to the high watermark, aborted records included.
 */
export type IsolationLevel = 'read_committed' | 'read_uncommitted';

/** Kafka's `cleanup.policy`. */
export type CleanupPolicy = 'delete' | 'compact';

/** A record value. `null` on a compacted topic is a tombstone for its key. */
export type RecordValue = Uint8Array | string | null;

/** Record headers. Kafka allows bytes and repeated names; Tributary only uses single string values. */
export type RecordHeaders = Readonly<Record<string, string>>;

/** Settings of a topic, fixed at creation. */
export interface TopicConfig {
  /** Number of partitions; a positive integer. */
  readonly partitions: number;
  /** Kafka's `cleanup.policy`; default `'delete'`. */
  readonly cleanupPolicy?: CleanupPolicy;
}

/** A topic's name and settings, as `describeTopic` returns them. */
export interface TopicDescription {
  /** The topic name. */
  readonly name: string;
  /** Number of partitions. */
  readonly partitions: number;
  /** Kafka's `cleanup.policy`. */
  readonly cleanupPolicy: CleanupPolicy;
}

/** A message handed to a producer (kafkajs `Message`). */
export interface LogMessage {
  /** Partitioning key; `null`/absent means no key (round-robin partitioning). */
  readonly key?: string | null;
  /** The payload; `null` is a tombstone on compacted topics. */
  readonly value: RecordValue;
  /** Headers; default none. */
  readonly headers?: RecordHeaders;
  /** Explicit partition, which overrides key-based partitioning as in Kafka. */
  readonly partition?: number;
  /** Create time in epoch milliseconds; default the log's clock. */
  readonly timestamp?: number;
}

/** What a producer sends in one call (kafkajs `ProducerRecord`). */
export interface ProducerRecord {
  /** The destination topic, which must exist (no auto-creation). */
  readonly topic: string;
  /** The messages, appended in this order. */
  readonly messages: readonly LogMessage[];
}

/**
 * Where one sent message landed. Unlike kafkajs, which reports a base offset per
 * partition batch, this reports each message's own offset.
 */
export interface RecordMetadata {
  /** The topic written to. */
  readonly topic: string;
  /** The partition chosen by the partitioner (or given explicitly). */
  readonly partition: number;
  /** The record's offset in that partition. */
  readonly offset: number;
}

/**
 * A record as consumers see it. Offsets are plain numbers (exact up to 2^53, far beyond
 * what an in-memory log holds); a contract adapter over kafkajs converts its string offsets.
 */
export interface LogRecord {
  /** The topic it belongs to. */
  readonly topic: string;
  /** The partition it belongs to. */
  readonly partition: number;
  /** Position in the partition; 0-based, and gapped where control markers sit. */
  readonly offset: number;
  /** The key, or `null`. */
  readonly key: string | null;
  /** The value, or `null` (tombstone). */
  readonly value: RecordValue;
  /** The headers. */
  readonly headers: RecordHeaders;
  /** Create time in epoch milliseconds. */
  readonly timestamp: number;
}

/** A topic-partition pair. */
export interface TopicPartition {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
}

/** A topic-partition with an offset, e.g. a commit (offset = next record to read, as in Kafka). */
export interface TopicPartitionOffset extends TopicPartition {
  /** The offset. */
  readonly offset: number;
}

/** An offset of one partition of a known topic. */
export interface PartitionOffset {
  /** The partition. */
  readonly partition: number;
  /** The offset. */
  readonly offset: number;
}

/** A group's committed offset for one partition; `null` when the group never committed one. */
export interface CommittedPartitionOffset {
  /** The partition. */
  readonly partition: number;
  /** The next offset the group will read, or `null`. */
  readonly offset: number | null;
}

/** The watermarks of one partition, for lag tooling. */
export interface PartitionWatermarks {
  /** The partition. */
  readonly partition: number;
  /** First offset still in the log (always 0 here: nothing is deleted). */
  readonly earliestOffset: number;
  /** Offset the next appended record will get (Kafka's log end offset / high watermark). */
  readonly highWatermark: number;
  /**
   * First offset of the earliest still-open transaction, else the high watermark.
   * `read_committed` readers never read at or past it.
   */
  readonly lastStableOffset: number;
}

/** The result of a direct `fetch` from one partition. */
export interface FetchResult {
  /** The visible records, in offset order. */
  readonly records: readonly LogRecord[];
  /**
   * Where the next fetch should start: past the last record returned, or past any
   * control markers and aborted records skipped after it.
   */
  readonly nextOffset: number;
  /** The partition's high watermark at fetch time. */
  readonly highWatermark: number;
  /** The partition's last stable offset at fetch time. */
  readonly lastStableOffset: number;
}

/** The records a consumer poll returned for one partition (kafkajs `Batch`). */
export interface LogBatch extends TopicPartition {
  /** The records, in offset order; never empty. */
  readonly records: readonly LogRecord[];
  /** The partition's high watermark when polled. */
  readonly highWatermark: number;
  /** The partition's last stable offset when polled. */
  readonly lastStableOffset: number;
}
