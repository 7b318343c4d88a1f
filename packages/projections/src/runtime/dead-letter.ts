import type { KafkaProducer } from '@tributary/core';
import { deadLetterTopicFor, type ProjectionRuntimeConfig } from '../config.js';
import { headersAsStrings } from '../source-record.js';
import type { DeadLetterPublisher } from './projection-applier.js';

/** Headers added to a dead letter, beside the original record's headers. */
export const DeadLetterHeaders = {
  projection: 'tributary.dlq.projection',
  projectionVersion: 'tributary.dlq.projection_version',
  sourceTopic: 'tributary.dlq.source_topic',
  sourcePartition: 'tributary.dlq.source_partition',
  sourceOffset: 'tributary.dlq.source_offset',
  error: 'tributary.dlq.error',
  errorCode: 'tributary.dlq.error_code',
  attempts: 'tributary.dlq.attempts',
  failedAt: 'tributary.dlq.failed_at',
} as const;

/** The context headers of a dead letter: where it came from, who failed on it and why. */
export function deadLetterHeaders(
  record: { topic: string; partition: number; offset: number },
  context: { projection: { name: string; version: number }; error: unknown; attempts: number },
  now: Date = new Date(),
): Record<string, string> {
  const { error } = context;
  const code =
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string'
      ? (error as { code: string }).code
      : undefined;
  return {
    [DeadLetterHeaders.projection]: context.projection.name,
    [DeadLetterHeaders.projectionVersion]: String(context.projection.version),
    [DeadLetterHeaders.sourceTopic]: record.topic,
    [DeadLetterHeaders.sourcePartition]: String(record.partition),
    [DeadLetterHeaders.sourceOffset]: String(record.offset),
    [DeadLetterHeaders.error]: (error instanceof Error
      ? `${error.name}: ${error.message}`
      : String(error)
    ).slice(0, 2_000),
    ...(code === undefined ? {} : { [DeadLetterHeaders.errorCode]: code }),
    [DeadLetterHeaders.attempts]: String(context.attempts),
    [DeadLetterHeaders.failedAt]: now.toISOString(),
  };
}

/**
 * A dead-letter publisher on a Kafka producer (idempotent, acks from all replicas): the
 * record keeps its key, value and headers and gains the context headers.
 */
export function kafkaDeadLetterPublisher(
  producer: () => Promise<KafkaProducer>,
  config: Pick<ProjectionRuntimeConfig, 'deadLetterTopicPrefix'>,
): DeadLetterPublisher {
  return async (record, context) => {
    const topic = deadLetterTopicFor(config, context.projection.name);
    await (
      await producer()
    ).send([
      {
        topic,
        messages: [
          {
            key: record.key,
            value: record.value === null ? null : Buffer.from(record.value),
            headers: { ...headersAsStrings(record.headers), ...deadLetterHeaders(record, context) },
          },
        ],
      },
    ]);
  };
}
