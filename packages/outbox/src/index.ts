/**
 * @packageDocumentation
 * The PostgreSQL side of Tributary: the outbox table as event store, its knex migrations,
 * snapshots, and the capture relay with its PostgreSQL change source and Kafka sink.
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
export * from './capture/postgres/postgres-change-source.js';
export {
  createKafkaCaptureSink,
  KafkaCaptureSink,
  type KafkaCaptureSinkOptions,
  transactionalIdFor,
} from './capture/kafka/kafka-sink.js';
export * from './capture/postgres/slot.js';
export * from './capture/capturer.js';
export * from './capture/postgres-kafka-capturer.js';
export * from './schemas/index.js';
