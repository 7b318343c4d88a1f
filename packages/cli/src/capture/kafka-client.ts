import type { KafkaClient, KafkaSecurityOptions, Logger } from '@tributary/core';
import type { CaptureConfig } from '@tributary/outbox';
import { createKafkaClient, DEFAULT_KAFKA_CLIENT, type KafkaClientName } from '../kafka-client.js';

/**
 * The Kafka client `tributary capture` runs with, built from the capture configuration: the
 * one place that maps capture's Kafka settings onto a client (the benchmark's capturer
 * process uses it too, so both run the same client).
 */
export function captureKafkaClient(
  config: CaptureConfig,
  logger: Logger,
  client: KafkaClientName = DEFAULT_KAFKA_CLIENT,
  security: KafkaSecurityOptions = {},
): KafkaClient {
  return createKafkaClient(client, {
    brokers: config.kafka.brokers,
    clientId: config.kafka.clientId,
    ssl: config.kafka.ssl,
    security,
    fastRecordEncoder: config.kafka.fastRecordEncoder,
    logger,
  });
}
