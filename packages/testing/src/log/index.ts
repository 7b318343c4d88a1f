/**
 * The in-memory Kafka-like log: the broker stand-in of Tributary's in-memory runtime.
 *
 * @packageDocumentation
 */
export { InMemoryKafkaLog, DEFAULT_MAX_MESSAGE_BYTES } from './in-memory-kafka-log.js';
export type {
  InMemoryKafkaLogOptions,
  FetchOptions,
  IsolationOptions,
  GroupDescription,
  GroupMemberDescription,
} from './in-memory-kafka-log.js';
export { InMemoryProducer, InMemoryTransaction } from './producer.js';
export type { ProducerOptions } from './producer.js';
export { InMemoryConsumer } from './consumer.js';
export type {
  ConsumerOptions,
  SubscribeOptions,
  PollOptions,
  RebalanceListener,
} from './consumer.js';
export { murmur2, toPositive, partitionForKey } from './murmur2.js';
export {
  LogError,
  UnknownTopicError,
  TopicAlreadyExistsError,
  InvalidPartitionsError,
  InvalidRecordError,
  MessageTooLargeError,
  ProducerFencedError,
  InvalidTransactionStateError,
  OffsetOutOfRangeError,
  RebalanceInProgressError,
  IllegalStateError,
  isLogError,
} from './errors.js';
export type { LogErrorCode } from './errors.js';
export type * from './types.js';
export { InMemoryKafkaClient } from './in-memory-kafka-client.js';
