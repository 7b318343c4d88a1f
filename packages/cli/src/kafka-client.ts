/**
 * Which Kafka client library the commands run on. Both implement the `KafkaClient` port and
 * pass the same contract and crash suites; the choice is the operator's, made once per
 * process with `--kafka-client`, `TRIBUTARY_KAFKA_CLIENT` or (capture) `kafka.client` in the
 * config file. docs/kafka-clients.md lists the differences.
 */
import type { KafkaClient, KafkaSecurityOptions, Logger } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { createPlatformaticKafkaClient } from '@tributary/platformatic-kafka';
import { UsageError } from './output.js';

/** The client libraries, by the name the settings use. */
export const KAFKA_CLIENT_NAMES = ['kafkajs', 'platformatic'] as const;

/** `kafkajs` (kafkajs 2.2.4) or `platformatic` (@platformatic/kafka 1.x). */
export type KafkaClientName = (typeof KAFKA_CLIENT_NAMES)[number];

/** The client when nothing is configured. */
export const DEFAULT_KAFKA_CLIENT: KafkaClientName = 'kafkajs';

/** The environment variable that selects the client. */
export const KAFKA_CLIENT_ENV = 'TRIBUTARY_KAFKA_CLIENT';

/**
 * The first configured of `candidates` (highest precedence first), validated.
 *
 * @throws UsageError naming the source and the accepted values when a value is not a client.
 */
export function kafkaClientName(
  ...candidates: readonly { readonly value: unknown; readonly source: string }[]
): KafkaClientName {
  for (const { value, source } of candidates) {
    if (value === undefined || value === '') continue;
    if (typeof value === 'string' && (KAFKA_CLIENT_NAMES as readonly string[]).includes(value)) {
      return value as KafkaClientName;
    }
    throw new UsageError(
      `${source} must be one of ${KAFKA_CLIENT_NAMES.join(', ')}, not ${JSON.stringify(value)}`,
    );
  }
  return DEFAULT_KAFKA_CLIENT;
}

/** Connection settings common to both clients. */
export interface KafkaConnectionSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: boolean;
  /** TLS and SASL (see `kafkaSecurityFrom`). Default: plaintext, no SASL. */
  readonly security?: KafkaSecurityOptions;
  readonly logger?: Logger;
  /** kafkajs only: its byte-identical fast record encoder. Default `true`. */
  readonly fastRecordEncoder?: boolean;
}

/** Builds the named client. */
export function createKafkaClient(
  name: KafkaClientName,
  settings: KafkaConnectionSettings,
): KafkaClient {
  const common = {
    brokers: settings.brokers,
    clientId: settings.clientId,
    ...(settings.ssl === undefined ? {} : { ssl: settings.ssl }),
    ...settings.security,
    ...(settings.logger === undefined ? {} : { logger: settings.logger }),
  };
  switch (name) {
    case 'kafkajs':
      return createKafkajsClient({
        ...common,
        ...(settings.fastRecordEncoder === undefined
          ? {}
          : { fastRecordEncoder: settings.fastRecordEncoder }),
      });
    case 'platformatic':
      return createPlatformaticKafkaClient(common);
  }
}
