/**
 * @packageDocumentation
 * The PostgreSQL side of Tributary: the outbox table as event store, its knex migrations,
 * snapshots, and (next) the WAL capturer that streams the outbox to Kafka.
 */
export * from './config.js';
export * from './migrations.js';
export type { SqlConnection } from './internal/sql-executor.js';
export * from './event-store/postgres-event-store.js';
export * from './event-store/postgres-snapshot-store.js';
export * from './capture/config.js';
export * from './capture/errors.js';
export * from './capture/events.js';
export * from './capture/lsn.js';
export * from './capture/router.js';
export * from './capture/source.js';
export * from './capture/sink.js';
export * from './capture/logger.js';
export * from './capture/kafka/checkpoint.js';
export * from './capture/kafka/topic-hazards.js';
export {
  type CrashPoint,
  type CrashPoints,
  crashPointsFromEnvironment,
  noCrashPoints,
} from './capture/crash-points.js';
export {
  CapturePipeline,
  type CapturePipelineOptions,
  type PayloadEncoder,
} from './capture/pipeline.js';
export {
  PgoutputSource,
  type PgoutputSourceOptions,
  classifyReplicationError,
} from './capture/postgres/pgoutput-source.js';
export {
  KafkaCaptureSink,
  type KafkaCaptureSinkOptions,
  transactionalIdFor,
} from './capture/kafka/kafka-sink.js';
export * from './capture/postgres/slot.js';
// The fast kafkajs record encoder is switched by `kafka.fastRecordEncoder`; exported so a
// process can install it before kafkajs loads (the raw-produce baseline of bench:capture).
export { installFastRecordEncoder } from './capture/kafka/internal/kafkajs-record-encoder.js';
export * from './capture/capturer.js';
export * from './schemas/index.js';
