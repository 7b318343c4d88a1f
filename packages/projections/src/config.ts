import {
  assertSqlIdentifier,
  DEFAULT_TOPIC_PREFIX,
  InvalidIdentifierError,
  type RetryOptions,
} from '@tributary/core';

/**
 * What to do when an aggregate's versions are not contiguous (checked from the record
 * headers, per projection):
 * - `fail`: stop the runtime with an {@link OrderingViolationError}; nothing of the batch is applied.
 * - `park`: park the aggregate; this event and all later ones wait in the parked table, in order.
 * - `warn`: report it and carry on; a repeat (version already applied) is skipped, a gap is applied.
 */
export type OrderingPolicy = 'fail' | 'park' | 'warn';

/**
 * What to do with an event whose handler still fails after the retries:
 * - `stop`: stop the runtime; the checkpoint stays before the event, so a fixed deployment resumes there.
 * - `park`: park the aggregate; this event and all later ones of the same aggregate wait in the
 *   parked table (in order) until replayed with `tributary parked replay`; others carry on.
 * - `dead-letter`: publish the record to the dead-letter topic with context headers and carry on.
 */
export type PoisonPolicy = 'stop' | 'park' | 'dead-letter';

/** Settings of the projection runtime. Every field has a documented default. */
export interface ProjectionRuntimeConfig {
  /** Schema of the runtime's own tables (checkpoints, parked events…). Default `tributary`. */
  readonly schema: string;
  /** Checkpoint per (projection, version, topic, partition). Default `projection_checkpoints`. */
  readonly checkpointsTable: string;
  /** Last applied version (and parked flag) per (projection, version, aggregate). Default `projection_aggregates`. */
  readonly aggregatesTable: string;
  /** Parked events, replayable from the CLI. Default `projection_parked`. */
  readonly parkedTable: string;
  /**
   * Records published to the dead-letter topic, so a batch that runs again does not publish
   * them twice. Default `projection_dead_letters`.
   */
  readonly deadLettersTable: string;
  /** Known projection versions and their status (building, active, retired). Default `projections`. */
  readonly registryTable: string;
  /** Applied read-model migrations per projection version. Default `projection_migrations`. */
  readonly migrationsTable: string;
  /** Schema of the read-model tables and of the views readers query. Default `public`. */
  readonly readModelSchema: string;
  /** Topics are `<topicPrefix>.<AggregateType>`, as the capturer publishes them. Default `events`. */
  readonly topicPrefix: string;
  /** Consumer group of a projection: `<groupIdPrefix>.<name>.v<version>`. Default `tributary.projection`. */
  readonly groupIdPrefix: string;
  /** Dead letters go to `<deadLetterTopicPrefix>.<projection name>`. Default `tributary.dlq`. */
  readonly deadLetterTopicPrefix: string;
  /** Default ordering policy; a projection may override it. Default `fail`. */
  readonly ordering: OrderingPolicy;
  /** Default poison-event policy; a projection may override it. Default `stop`. */
  readonly poison: PoisonPolicy;
  /**
   * Retries of a failing batch before the poison policy applies. Default 3 retries, 100 ms
   * doubling to at most 5 s: long enough to ride out a database failover blip, short enough
   * that one poison event does not stall a partition for minutes.
   */
  readonly retry: RetryOptions;
  /** Most records applied in one database transaction. Default 500. */
  readonly maxBatchRecords: number;
  /** Partitions processed in parallel per projection (each needs a connection). Default 4. */
  readonly partitionsConsumedConcurrently: number;
  /** Kafka consumer session timeout. Default 30,000 ms (kafkajs' default). */
  readonly sessionTimeoutMs: number;
  /** Kafka consumer heartbeat interval. Default 3,000 ms. */
  readonly heartbeatIntervalMs: number;
  /**
   * PostgreSQL `idle_in_transaction_session_timeout` of every batch transaction: a runtime
   * frozen in the middle of a batch (a stopped VM, a process that never resumes) has its
   * session ended by the server after this long, which releases its checkpoint row lock so
   * the partition's new owner proceeds. Default 30,000 ms (the default session timeout: by
   * the time the group hands the partition over, the lock is gone). A handler that waits
   * longer than this between two statements has its batch rolled back and retried.
   */
  readonly idleInTransactionTimeoutMs: number;
  /**
   * PostgreSQL `lock_timeout` of every batch transaction: a batch that waits longer than
   * this for a row lock (a checkpoint held by another process) fails and is retried, so a
   * lock that is never released shows as retries instead of a silent stall. Default 60,000 ms.
   */
  readonly lockTimeoutMs: number;
  /**
   * A consumed topic that does not exist yet (no event of that aggregate type was ever
   * published): `wait` until the capturer creates it, or `create` it with
   * {@link topicPartitions} partitions. Default `wait`.
   */
  readonly missingTopics: 'wait' | 'create';
  /**
   * Partitions of the topics the runtime creates: event topics under `missingTopics:
   * 'create'` and dead-letter topics. Both are created with infinite retention
   * (`retention.ms=-1`), never left to broker auto-creation. Default 3 (the capturer's default).
   */
  readonly topicPartitions: number;
  /**
   * Replication factor of the topics the runtime creates (see {@link topicPartitions});
   * -1 = the broker's `default.replication.factor`. Default -1 (works on one broker; set 3
   * on a production cluster, like the capturer's `topics.replicationFactor`).
   */
  readonly topicReplicationFactor: number;
  /**
   * `min.insync.replicas` of the topics the runtime creates; -1 = the broker's setting.
   * Dead letters are produced with `acks=all`, so with 2 of 3 a dead letter survives the
   * loss of a broker. Default -1. Must not exceed a positive {@link topicReplicationFactor}.
   */
  readonly topicMinInsyncReplicas: number;
  /**
   * Longest a fetch waits on the broker for new records (kafkajs `maxWaitTimeInMs`). Default
   * 100 ms instead of kafkajs' 5,000 ms: a projection is latency-sensitive and idle fetches are cheap.
   */
  readonly maxWaitTimeMs: number;
  /**
   * Longest an assigned partition's checkpoint may stay put while records lie beyond it
   * (a handler that never settles, a Kafka client that stopped fetching) before the runtime
   * stops with `PROJECTION_STALLED`, so that its supervisor restarts it. Batch retries count
   * as progress. Set it above the longest a batch of {@link maxBatchRecords} may take.
   * 0 turns the watchdog off. Default 300,000 ms (Kafka's `max.poll.interval.ms`).
   */
  readonly stallTimeoutMs: number;
}

/** The defaults of {@link ProjectionRuntimeConfig}. */
export const defaultProjectionRuntimeConfig: ProjectionRuntimeConfig = {
  schema: 'tributary',
  checkpointsTable: 'projection_checkpoints',
  aggregatesTable: 'projection_aggregates',
  parkedTable: 'projection_parked',
  deadLettersTable: 'projection_dead_letters',
  registryTable: 'projections',
  migrationsTable: 'projection_migrations',
  readModelSchema: 'public',
  topicPrefix: DEFAULT_TOPIC_PREFIX,
  groupIdPrefix: 'tributary.projection',
  deadLetterTopicPrefix: 'tributary.dlq',
  ordering: 'fail',
  poison: 'stop',
  retry: { retries: 3, initialDelayMs: 100, maxDelayMs: 5_000 },
  maxBatchRecords: 500,
  partitionsConsumedConcurrently: 4,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  idleInTransactionTimeoutMs: 30_000,
  lockTimeoutMs: 60_000,
  missingTopics: 'wait',
  topicPartitions: 3,
  topicReplicationFactor: -1,
  topicMinInsyncReplicas: -1,
  maxWaitTimeMs: 100,
  stallTimeoutMs: 300_000,
};

/**
 * Fills in defaults and validates every identifier.
 *
 * @throws InvalidIdentifierError for a bad schema or table name, or a non-positive size.
 */
export function resolveProjectionRuntimeConfig(
  overrides: Partial<ProjectionRuntimeConfig> = {},
): ProjectionRuntimeConfig {
  const config: ProjectionRuntimeConfig = {
    ...defaultProjectionRuntimeConfig,
    ...overrides,
    retry: { ...defaultProjectionRuntimeConfig.retry, ...overrides.retry },
  };
  for (const key of [
    'schema',
    'checkpointsTable',
    'aggregatesTable',
    'parkedTable',
    'deadLettersTable',
    'registryTable',
    'migrationsTable',
    'readModelSchema',
  ] as const) {
    assertSqlIdentifier(key, config[key]);
  }
  for (const key of [
    'maxBatchRecords',
    'partitionsConsumedConcurrently',
    'sessionTimeoutMs',
    'heartbeatIntervalMs',
    'idleInTransactionTimeoutMs',
    'lockTimeoutMs',
    'topicPartitions',
    'maxWaitTimeMs',
  ] as const) {
    if (!Number.isSafeInteger(config[key]) || config[key] < 1) {
      throw new InvalidIdentifierError(key, config[key], 'must be a positive integer');
    }
  }
  if (!Number.isSafeInteger(config.stallTimeoutMs) || config.stallTimeoutMs < 0) {
    throw new InvalidIdentifierError(
      'stallTimeoutMs',
      config.stallTimeoutMs,
      'must be 0 (no stall watchdog) or a positive integer of milliseconds',
    );
  }
  for (const key of ['topicReplicationFactor', 'topicMinInsyncReplicas'] as const) {
    if (!Number.isSafeInteger(config[key]) || (config[key] < 1 && config[key] !== -1)) {
      throw new InvalidIdentifierError(
        key,
        config[key],
        'must be -1 (the broker default) or a positive integer',
      );
    }
  }
  if (
    config.topicReplicationFactor > 0 &&
    config.topicMinInsyncReplicas > config.topicReplicationFactor
  ) {
    throw new InvalidIdentifierError(
      'topicMinInsyncReplicas',
      config.topicMinInsyncReplicas,
      `must not exceed topicReplicationFactor (${config.topicReplicationFactor}): every acks=all write would fail`,
    );
  }
  return config;
}

/** The consumer group of one projection version. */
export function groupIdFor(
  config: Pick<ProjectionRuntimeConfig, 'groupIdPrefix'>,
  projection: { readonly name: string; readonly version: number },
): string {
  return `${config.groupIdPrefix}.${projection.name}.v${projection.version}`;
}

/** The dead-letter topic of a projection. */
export function deadLetterTopicFor(
  config: Pick<ProjectionRuntimeConfig, 'deadLetterTopicPrefix'>,
  projectionName: string,
): string {
  return `${config.deadLetterTopicPrefix}.${projectionName}`;
}
