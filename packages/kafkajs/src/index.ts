/**
 * @packageDocumentation
 * The Kafka client port of `@tributary/core` on kafkajs 2.2.4: the only package that
 * imports kafkajs. Create one client per process with {@link createKafkajsClient} and hand
 * it to the capturer, the projection runtime and the tools.
 */
export { createKafkajsClient, type KafkajsClientOptions } from './client.js';
/** For raw kafkajs baselines (benchmarks) that want the encoder the client installs. */
export { installFastRecordEncoder } from './internal/kafkajs-record-encoder.js';
