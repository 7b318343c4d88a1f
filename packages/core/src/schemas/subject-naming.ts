/**
 * Subject naming strategies: which registry subject a record's schema lives under. The
 * subject is the unit of compatibility checking, so the strategy decides which schemas
 * must stay compatible with each other.
 */
import { InvalidIdentifierError } from '../errors.js';
import { DEFAULT_TOPIC_PREFIX, topicFor } from '../topics.js';

/** What a strategy may name a subject after. */
export interface SubjectNameContext {
  /** Kafka topic of the record, e.g. `events.Account`. */
  readonly topic: string;
  readonly eventType: string;
  /** Avro full name, Protobuf message or JSON Schema title (else the event type). */
  readonly recordName: string;
}

/** Maps a record to its subject. */
export type SubjectNameStrategy = (context: SubjectNameContext) => string;

/** Names of the built-in strategies. */
export type SubjectNameStrategyName = 'topic' | 'record' | 'topic-record';

/**
 * `<topic>-value`: Confluent's TopicNameStrategy. One schema per topic, so every event type
 * of a topic shares one compatibility line; only suitable for one event type per topic.
 */
export const topicNameStrategy: SubjectNameStrategy = ({ topic }) => `${topic}-value`;

/** `<recordName>`: Confluent's RecordNameStrategy; a record type shares one subject across topics. */
export const recordNameStrategy: SubjectNameStrategy = ({ recordName }) => recordName;

/**
 * `<topic>-<EventType>`: Tributary's default, like Confluent's TopicRecordNameStrategy but
 * keyed by the event type, so each event type of a topic evolves on its own line.
 */
export const topicRecordNameStrategy: SubjectNameStrategy = ({ topic, eventType }) =>
  `${topic}-${eventType}`;

/**
 * A built-in strategy by name.
 *
 * @throws InvalidIdentifierError for an unknown name.
 */
export function subjectNameStrategy(name: string): SubjectNameStrategy {
  switch (name) {
    case 'topic':
      return topicNameStrategy;
    case 'record':
      return recordNameStrategy;
    case 'topic-record':
      return topicRecordNameStrategy;
    default:
      throw new InvalidIdentifierError(
        'subject naming strategy',
        name,
        'must be topic, record or topic-record',
      );
  }
}

/** Topic of an aggregate type under the default routing: `<prefix>.<AggregateType>`. */
export function defaultTopicFor(aggregateType: string, prefix = DEFAULT_TOPIC_PREFIX): string {
  return topicFor({ topicPrefix: prefix }, aggregateType);
}
