/**
 * The default wiring, and nothing else: the relay with the PostgreSQL change source and the
 * Kafka sink, as `tributary capture` runs it. Kept apart so the relay itself names no
 * technology.
 */
import { type KafkaClient, silentLogger } from '@tributary/core';
import { createCapturer, type Capturer, type CapturerOptions } from './capturer.js';
import type { CaptureConfig } from './config.js';
import { noCrashPoints } from './crash-points.js';
import { createKafkaCaptureSink } from './kafka/kafka-sink.js';
import { createPostgresChangeSource } from './postgres/postgres-change-source.js';

/** Options of {@link createPostgresKafkaCapturer}: those of `createCapturer` minus the collaborators. */
export interface PostgresKafkaCapturerOptions extends Omit<
  CapturerOptions,
  'config' | 'source' | 'sink'
> {
  /** The resolved configuration (see `resolveCaptureConfig`). */
  readonly config: CaptureConfig;
  /** The Kafka client (e.g. `createKafkajsClient` of `@tributary/kafkajs`). */
  readonly kafka: KafkaClient;
}

/**
 * Creates a capturer from the outbox's replication slot to Kafka; nothing connects until
 * `run`. The logger and crash points reach the relay, the source and the sink alike.
 */
export function createPostgresKafkaCapturer(options: PostgresKafkaCapturerOptions): Capturer {
  const { config, kafka, ...relayOptions } = options;
  const logger = options.logger ?? silentLogger;
  const crashPoints = options.crashPoints ?? noCrashPoints;
  // Shared by the sinks of every run, so a restart does not check each topic again.
  const knownTopics = new Set<string>();
  return createCapturer({
    ...relayOptions,
    config,
    source: () => createPostgresChangeSource({ config, logger }),
    sink: () => createKafkaCaptureSink({ client: kafka, config, logger, crashPoints, knownTopics }),
  });
}
