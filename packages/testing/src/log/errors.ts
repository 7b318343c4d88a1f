/**
 * Typed errors of the in-memory Kafka-like log.
 *
 * Codes and `retriable` flags are Kafka's own (the protocol error names that kafkajs
 * surfaces as `error.type`), so code written against this log handles the same
 * conditions the same way when it runs against a real broker. They extend core's
 * `TributaryError`, so `isTributaryError` and `isRetriableError` treat them like any other.
 */
import { TributaryError } from '@tributary/core';

/** The Kafka protocol error names this log can raise. */
export type LogErrorCode =
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'TOPIC_ALREADY_EXISTS'
  | 'INVALID_PARTITIONS'
  | 'INVALID_RECORD'
  | 'MESSAGE_TOO_LARGE'
  | 'PRODUCER_FENCED'
  | 'INVALID_TXN_STATE'
  | 'OFFSET_OUT_OF_RANGE'
  | 'REBALANCE_IN_PROGRESS'
  | 'ILLEGAL_STATE';

/** Base class of every error thrown by the in-memory log. */
export class LogError extends TributaryError {
  /** Kafka's name for the condition (kafkajs `error.type`). */
  declare readonly code: LogErrorCode;

  /**
   * @param code - Kafka's name for the condition.
   * @param message - human-readable detail naming the topic, partition or id involved.
   * @param retriable - Kafka's retriable classification of `code`.
   */
  constructor(code: LogErrorCode, message: string, retriable: boolean) {
    super(code, message, { retriable });
  }
}

/**
 * The topic (or the given partition of it) does not exist. Retriable as in Kafka, where
 * it usually means metadata has not propagated yet; here it only succeeds once someone
 * creates the topic.
 */
export class UnknownTopicError extends LogError {
  /** The topic that was asked for. */
  readonly topic: string;
  /** The partition that was asked for, when the topic exists but the partition does not. */
  readonly partition: number | undefined;

  /**
   * @param topic - the missing topic.
   * @param partition - the missing partition of an existing topic, if that is what failed.
   */
  constructor(topic: string, partition?: number) {
    super(
      'UNKNOWN_TOPIC_OR_PARTITION',
      partition === undefined
        ? `Unknown topic "${topic}"`
        : `Unknown partition ${String(partition)} of topic "${topic}"`,
      true,
    );
    this.topic = topic;
    this.partition = partition;
  }
}

/** `createTopic` was called for a name that already exists (Kafka does not merge configs). */
export class TopicAlreadyExistsError extends LogError {
  /** @param topic - the existing topic. */
  constructor(topic: string) {
    super('TOPIC_ALREADY_EXISTS', `Topic "${topic}" already exists`, false);
  }
}

/** A partition count that is not a positive integer. */
export class InvalidPartitionsError extends LogError {
  /** @param partitions - the rejected count. */
  constructor(partitions: number) {
    super(
      'INVALID_PARTITIONS',
      `Partition count must be a positive integer, got ${String(partitions)}`,
      false,
    );
  }
}

/**
 * The broker rejected a record as malformed for the topic, e.g. a record without a key on
 * a compacted topic (Kafka: "Compacted topic cannot accept message without key").
 */
export class InvalidRecordError extends LogError {
  /** @param message - why the record was rejected. */
  constructor(message: string) {
    super('INVALID_RECORD', message, false);
  }
}

/** A record is bigger than the log's `maxMessageBytes` (Kafka's `message.max.bytes`). */
export class MessageTooLargeError extends LogError {
  /**
   * @param sizeInBytes - the encoded size of the rejected record.
   * @param maxMessageBytes - the configured limit.
   */
  constructor(sizeInBytes: number, maxMessageBytes: number) {
    super(
      'MESSAGE_TOO_LARGE',
      `Record of ${String(sizeInBytes)} bytes exceeds maxMessageBytes ${String(maxMessageBytes)}`,
      false,
    );
  }
}

/**
 * Another producer with the same transactional id has initialised since this one did, so
 * this producer is a zombie. As in Kafka it must be closed, never retried: the new
 * producer has already aborted whatever this one left open.
 */
export class ProducerFencedError extends LogError {
  /** @param transactionalId - the shared transactional id. */
  constructor(transactionalId: string) {
    super(
      'PRODUCER_FENCED',
      `Producer with transactional id "${transactionalId}" has been fenced by a newer instance`,
      false,
    );
  }
}

/** A transactional call made in the wrong state (send after commit, two open transactions, ...). */
export class InvalidTransactionStateError extends LogError {
  /** @param message - which call was made in which state. */
  constructor(message: string) {
    super('INVALID_TXN_STATE', message, false);
  }
}

/** An offset outside `[earliestOffset, highWatermark]` of the partition. */
export class OffsetOutOfRangeError extends LogError {
  /**
   * @param topic - the topic read or sought.
   * @param partition - the partition read or sought.
   * @param offset - the offending offset.
   */
  constructor(topic: string, partition: number, offset: number) {
    super(
      'OFFSET_OUT_OF_RANGE',
      `Offset ${String(offset)} is out of range for ${topic}/${String(partition)}`,
      false,
    );
  }
}

/**
 * The group has rebalanced since this member last polled, so its view of the assignment
 * is stale and its offset commit is refused (Kafka: REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION).
 * Retriable: poll again to take part in the new generation, then commit.
 */
export class RebalanceInProgressError extends LogError {
  /** @param groupId - the group that rebalanced. */
  constructor(groupId: string) {
    super(
      'REBALANCE_IN_PROGRESS',
      `Group "${groupId}" has rebalanced; poll to rejoin before committing`,
      true,
    );
  }
}

/** A client used out of order: consumer polled before subscribing, client used after disconnect. */
export class IllegalStateError extends LogError {
  /** @param message - which call was made in which state. */
  constructor(message: string) {
    super('ILLEGAL_STATE', message, false);
  }
}

/**
 * Whether `error` is a log error, optionally with the given code. Checks the `code`
 * property rather than relying on `instanceof` alone, so it also recognises errors from a
 * duplicate copy of this package.
 */
export function isLogError(error: unknown, code?: LogErrorCode): error is LogError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { code?: unknown; retriable?: unknown };
  if (typeof candidate.code !== 'string' || typeof candidate.retriable !== 'boolean') return false;
  return code === undefined || candidate.code === code;
}
