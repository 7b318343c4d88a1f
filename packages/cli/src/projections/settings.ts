/**
 * Every setting of the projection runtime as a flag and an environment variable (flags
 * win, then the environment, then the runtime's own defaults from
 * `defaultProjectionRuntimeConfig`). One table drives parsing, validation and the help
 * text, so a setting cannot have a flag without an environment name or go undocumented.
 */
import {
  defaultProjectionRuntimeConfig,
  type ProjectionRuntimeConfig,
} from '@tributary/projections';
import { UsageError } from '../output.js';

type Environment = Readonly<Record<string, string | undefined>>;
type RetryKey = keyof ProjectionRuntimeConfig['retry'];
type TopKey = Exclude<keyof ProjectionRuntimeConfig, 'retry'>;

/** One runtime setting: where it comes from and what it accepts. */
export interface ProjectionRuntimeSetting {
  /** The long flag, without `--`. */
  readonly flag: string;
  /** The environment variable. */
  readonly env: string;
  /** The field of `ProjectionRuntimeConfig` it sets (`retry.<field>` for retry fields). */
  readonly field: TopKey | `retry.${RetryKey}`;
  /** `integer` (positive), `replicas` (-1 = broker default, or positive), `text`, or the accepted values. */
  readonly accepts: 'integer' | 'replicas' | 'text' | readonly string[];
  readonly description: string;
}

/**
 * The settings. Names shared with `tributary capture` (topic prefix, topic partitions)
 * mean the same topics, so one environment configures both; settings that exist on both
 * sides with another meaning (schema, heartbeat interval) get a `TRIBUTARY_PROJECTION_` name.
 */
export const PROJECTION_RUNTIME_SETTINGS: readonly ProjectionRuntimeSetting[] = [
  {
    flag: 'topic-prefix',
    env: 'TRIBUTARY_TOPIC_PREFIX',
    field: 'topicPrefix',
    accepts: 'text',
    description: 'Topics are <prefix>.<AggregateType>',
  },
  {
    flag: 'schema',
    env: 'TRIBUTARY_PROJECTION_SCHEMA',
    field: 'schema',
    accepts: 'text',
    description: 'Schema of the runtime tables',
  },
  {
    flag: 'read-model-schema',
    env: 'TRIBUTARY_READ_MODEL_SCHEMA',
    field: 'readModelSchema',
    accepts: 'text',
    description: 'Schema of read-model tables and views',
  },
  {
    flag: 'group-prefix',
    env: 'TRIBUTARY_GROUP_PREFIX',
    field: 'groupIdPrefix',
    accepts: 'text',
    description: 'Consumer groups are <prefix>.<name>.v<version>',
  },
  {
    flag: 'batch-size',
    env: 'TRIBUTARY_PROJECTION_BATCH_SIZE',
    field: 'maxBatchRecords',
    accepts: 'integer',
    description: 'Most records applied in one database transaction',
  },
  {
    flag: 'concurrency',
    env: 'TRIBUTARY_PROJECTION_CONCURRENCY',
    field: 'partitionsConsumedConcurrently',
    accepts: 'integer',
    description: 'Partitions processed in parallel per projection',
  },
  {
    flag: 'session-timeout-ms',
    env: 'TRIBUTARY_PROJECTION_SESSION_TIMEOUT_MS',
    field: 'sessionTimeoutMs',
    accepts: 'integer',
    description: 'Kafka consumer session timeout',
  },
  {
    flag: 'heartbeat-interval-ms',
    env: 'TRIBUTARY_PROJECTION_HEARTBEAT_INTERVAL_MS',
    field: 'heartbeatIntervalMs',
    accepts: 'integer',
    description: 'Kafka consumer heartbeat interval',
  },
  {
    flag: 'max-wait-ms',
    env: 'TRIBUTARY_PROJECTION_MAX_WAIT_MS',
    field: 'maxWaitTimeMs',
    accepts: 'integer',
    description: 'Longest a fetch waits on the broker',
  },
  {
    flag: 'idle-in-transaction-timeout-ms',
    env: 'TRIBUTARY_PROJECTION_IDLE_IN_TRANSACTION_TIMEOUT_MS',
    field: 'idleInTransactionTimeoutMs',
    accepts: 'integer',
    description: 'PostgreSQL ends a batch session idle this long (a frozen process)',
  },
  {
    flag: 'lock-timeout-ms',
    env: 'TRIBUTARY_PROJECTION_LOCK_TIMEOUT_MS',
    field: 'lockTimeoutMs',
    accepts: 'integer',
    description: 'Longest a batch waits for a row lock before it retries',
  },
  {
    flag: 'stall-timeout-ms',
    env: 'TRIBUTARY_PROJECTION_STALL_TIMEOUT_MS',
    field: 'stallTimeoutMs',
    accepts: 'integer',
    description: 'Stop with PROJECTION_STALLED when a checkpoint stays put this long (0: off)',
  },
  {
    flag: 'ordering',
    env: 'TRIBUTARY_PROJECTION_ORDERING',
    field: 'ordering',
    accepts: ['fail', 'park', 'warn'],
    description: 'Version gap or repeat in an aggregate',
  },
  {
    flag: 'poison',
    env: 'TRIBUTARY_PROJECTION_POISON',
    field: 'poison',
    accepts: ['stop', 'park', 'dead-letter'],
    description: 'Event still failing after the retries',
  },
  {
    flag: 'retries',
    env: 'TRIBUTARY_PROJECTION_RETRIES',
    field: 'retry.retries',
    accepts: 'integer',
    description: 'Retries of a failing batch',
  },
  {
    flag: 'retry-initial-ms',
    env: 'TRIBUTARY_PROJECTION_RETRY_INITIAL_MS',
    field: 'retry.initialDelayMs',
    accepts: 'integer',
    description: 'First retry delay (doubles)',
  },
  {
    flag: 'retry-max-ms',
    env: 'TRIBUTARY_PROJECTION_RETRY_MAX_MS',
    field: 'retry.maxDelayMs',
    accepts: 'integer',
    description: 'Longest retry delay',
  },
  {
    flag: 'dead-letter-prefix',
    env: 'TRIBUTARY_DEAD_LETTER_PREFIX',
    field: 'deadLetterTopicPrefix',
    accepts: 'text',
    description: 'Dead letters go to <prefix>.<projection>',
  },
  {
    flag: 'missing-topics',
    env: 'TRIBUTARY_PROJECTION_MISSING_TOPICS',
    field: 'missingTopics',
    accepts: ['wait', 'create'],
    description: 'A consumed topic does not exist yet',
  },
  {
    flag: 'topic-partitions',
    env: 'TRIBUTARY_TOPIC_PARTITIONS',
    field: 'topicPartitions',
    accepts: 'integer',
    description:
      'Partitions of created event topics (--missing-topics create) and dead-letter topics',
  },
  {
    flag: 'topic-replication-factor',
    env: 'TRIBUTARY_TOPIC_REPLICATION_FACTOR',
    field: 'topicReplicationFactor',
    accepts: 'replicas',
    description: 'Replication factor of the topics it creates (-1: broker default)',
  },
  {
    flag: 'topic-min-insync-replicas',
    env: 'TRIBUTARY_TOPIC_MIN_INSYNC_REPLICAS',
    field: 'topicMinInsyncReplicas',
    accepts: 'replicas',
    description: 'min.insync.replicas of the topics it creates (-1: broker default)',
  },
  {
    flag: 'checkpoints-table',
    env: 'TRIBUTARY_PROJECTION_CHECKPOINTS_TABLE',
    field: 'checkpointsTable',
    accepts: 'text',
    description: 'Checkpoint table',
  },
  {
    flag: 'aggregates-table',
    env: 'TRIBUTARY_PROJECTION_AGGREGATES_TABLE',
    field: 'aggregatesTable',
    accepts: 'text',
    description: 'Applied versions per aggregate',
  },
  {
    flag: 'parked-table',
    env: 'TRIBUTARY_PROJECTION_PARKED_TABLE',
    field: 'parkedTable',
    accepts: 'text',
    description: 'Parked events',
  },
  {
    flag: 'dead-letters-table',
    env: 'TRIBUTARY_PROJECTION_DEAD_LETTERS_TABLE',
    field: 'deadLettersTable',
    accepts: 'text',
    description: 'Records already published as dead letters',
  },
  {
    flag: 'registry-table',
    env: 'TRIBUTARY_PROJECTION_REGISTRY_TABLE',
    field: 'registryTable',
    accepts: 'text',
    description: 'Projection versions and their status',
  },
  {
    flag: 'migrations-table',
    env: 'TRIBUTARY_PROJECTION_MIGRATIONS_TABLE',
    field: 'migrationsTable',
    accepts: 'text',
    description: 'Applied read-model migrations',
  },
];

/** `parseArgs` options for every setting. */
export const projectionRuntimeOptions: Readonly<Record<string, { type: 'string' }>> =
  Object.fromEntries(PROJECTION_RUNTIME_SETTINGS.map((s) => [s.flag, { type: 'string' }]));

const defaultOf = (field: ProjectionRuntimeSetting['field']): string => {
  const value = field.startsWith('retry.')
    ? defaultProjectionRuntimeConfig.retry[field.slice('retry.'.length) as RetryKey]
    : defaultProjectionRuntimeConfig[field as TopKey];
  return String(value);
};

/** The help lines of the settings, with their environment names and defaults. */
export function projectionRuntimeUsage(): string {
  return PROJECTION_RUNTIME_SETTINGS.map((setting) => {
    const value = Array.isArray(setting.accepts)
      ? `<${setting.accepts.join('|')}>`
      : setting.accepts === 'integer' || setting.accepts === 'replicas'
        ? '<n>'
        : '<name>';
    return `  --${`${setting.flag} ${value}`.padEnd(34)} ${setting.description}\n  ${''.padEnd(36)} (env ${setting.env}; default ${defaultOf(setting.field)})`;
  }).join('\n');
}

/**
 * The runtime config overrides from flags (`values`, as parsed) and the environment.
 *
 * @throws UsageError naming the flag or variable of a malformed value.
 */
export function projectionRuntimeConfigFrom(
  values: Readonly<Record<string, unknown>>,
  env: Environment,
): Partial<ProjectionRuntimeConfig> {
  const top: Partial<Record<string, unknown>> = {};
  const retry: Record<string, number> = {};
  for (const setting of PROJECTION_RUNTIME_SETTINGS) {
    const flagValue = values[setting.flag];
    const fromFlag = typeof flagValue === 'string';
    const raw = fromFlag ? flagValue : env[setting.env];
    if (raw === undefined || raw === '') continue;
    const source = fromFlag ? `--${setting.flag}` : setting.env;
    let value: string | number = raw;
    if (setting.accepts === 'integer') {
      value = Number(raw);
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new UsageError(`${source} must be a non-negative integer, not ${raw}`);
      }
    } else if (setting.accepts === 'replicas') {
      value = Number(raw);
      if (!Number.isSafeInteger(value) || (value < 1 && value !== -1)) {
        throw new UsageError(
          `${source} must be -1 (the broker default) or a positive integer, not ${raw}`,
        );
      }
    } else if (Array.isArray(setting.accepts) && !setting.accepts.includes(raw)) {
      throw new UsageError(`${source} must be ${setting.accepts.join(', ')}, not ${raw}`);
    }
    if (setting.field.startsWith('retry.')) {
      retry[setting.field.slice('retry.'.length)] = value as number;
    } else {
      top[setting.field] = value;
    }
  }
  // The runtime fills in the retry fields not given here from its defaults.
  if (Object.keys(retry).length > 0) top.retry = retry;
  return top;
}
