import type { KafkaClient, Logger } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import type { CaptureConfig } from '@tributary/outbox';

/**
 * The Kafka client `tributary capture` runs with, built from the capture configuration: the
 * one place that maps capture's Kafka settings onto the kafkajs client (the benchmark's
 * capturer process uses it too, so both run the same client).
 */
export function captureKafkaClient(config: CaptureConfig, logger: Logger): KafkaClient {
  return createKafkajsClient({
    brokers: config.kafka.brokers,
    clientId: config.kafka.clientId,
    ssl: config.kafka.ssl,
    fastRecordEncoder: config.kafka.fastRecordEncoder,
    logger,
  });
}
