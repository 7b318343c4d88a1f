/**
 * Where `tributary capture` reads its settings from, besides flags: environment variables
 * and a JSON config file, merged with precedence flags > environment > file. The resulting
 * {@link CaptureConfigInput} goes to `resolveCaptureConfig` of `@tributary/outbox`, which
 * owns the config shape, the defaults and the validation.
 */
import { readFile } from 'node:fs/promises';
import { CaptureError, type CaptureConfigInput, type UnroutablePolicy } from '@tributary/outbox';

/**
 * Environment variables read by {@link captureConfigFromEnvironment}, with the setting each
 * one sets. Documented in docs/capture.md.
 */
export const CAPTURE_ENVIRONMENT = {
  DATABASE_URL: 'databaseUrl',
  KAFKA_BROKERS: 'kafka.brokers (comma-separated)',
  KAFKA_CLIENT_ID: 'kafka.clientId',
  KAFKA_SSL: 'kafka.ssl (true/false)',
  KAFKA_MAX_RECORD_BYTES: 'kafka.maxRecordBytes',
  TRIBUTARY_KAFKA_CLIENT:
    'kafka.client (kafkajs/platformatic; chosen by the CLI, see kafkaClientName)',
  TRIBUTARY_CAPTURE_NAME: 'name',
  TRIBUTARY_SCHEMA: 'outbox.schema',
  TRIBUTARY_EVENTS_TABLE: 'outbox.eventsTable',
  TRIBUTARY_SLOT: 'slot.name',
  TRIBUTARY_PUBLICATION: 'slot.publication',
  TRIBUTARY_CREATE_SLOT: 'slot.create and slot.createPublication (true/false)',
  TRIBUTARY_TOPIC_PREFIX: 'router.topicPrefix',
  TRIBUTARY_TOPIC_PARTITIONS: 'topics.partitions',
  TRIBUTARY_TOPIC_REPLICATION_FACTOR: 'topics.replicationFactor',
  TRIBUTARY_TOPIC_MIN_INSYNC_REPLICAS: 'topics.minInsyncReplicas',
  TRIBUTARY_CHECKPOINT_TOPIC: 'topics.checkpointTopic',
  TRIBUTARY_TRANSACTION_TOPIC: 'topics.transactionTopic',
  TRIBUTARY_UNROUTABLE: 'router.onUnroutable (warn/error/fatal)',
  TRIBUTARY_BATCH_MAX_EVENTS: 'batch.maxEvents',
  TRIBUTARY_BATCH_MAX_BYTES: 'batch.maxBytes',
  TRIBUTARY_BATCH_LINGER_MS: 'batch.lingerMs',
  TRIBUTARY_BATCH_MAX_REQUEST_BYTES: 'batch.maxRequestBytes',
  TRIBUTARY_CHUNK_MAX_EVENTS: 'batch.chunkMaxEvents',
  TRIBUTARY_CHUNK_MAX_BYTES: 'batch.chunkMaxBytes',
  TRIBUTARY_HEARTBEAT_INTERVAL_MS: 'heartbeatIntervalMs',
  TRIBUTARY_STANDBY_RETRY_MS: 'standbyRetryMs',
  TRIBUTARY_PROGRESS_INTERVAL_MS: 'progressIntervalMs',
  TRIBUTARY_WAL_SENDER_TIMEOUT_MS: 'walSenderTimeoutMs',
  TRIBUTARY_REPLICATION_SILENCE_TIMEOUT_MS: 'replicationSilenceTimeoutMs',
} as const;

type Environment = Readonly<Record<string, string | undefined>>;

const integer = (env: Environment, key: string): number | undefined => {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) {
    throw new CaptureError('CAPTURE_CONFIG_INVALID', `${key}=${raw} is not an integer`);
  }
  return value;
};

const boolean = (env: Environment, key: string): boolean | undefined => {
  const raw = env[key]?.toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new CaptureError('CAPTURE_CONFIG_INVALID', `${key}=${raw} is not true or false`);
};

const text = (env: Environment, key: string): string | undefined => {
  const raw = env[key];
  return raw === undefined || raw === '' ? undefined : raw;
};

/** Drops `undefined` members, so a partial built from optional sources stays exact. */
function defined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, member]) => member !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

/** Reads the variables of {@link CAPTURE_ENVIRONMENT}; unset ones leave the setting alone. */
export function captureConfigFromEnvironment(env: Environment = process.env): CaptureConfigInput {
  const brokers = text(env, 'KAFKA_BROKERS')
    ?.split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  const create = boolean(env, 'TRIBUTARY_CREATE_SLOT');
  const transactionTopic = text(env, 'TRIBUTARY_TRANSACTION_TOPIC');
  const unroutable = text(env, 'TRIBUTARY_UNROUTABLE') as UnroutablePolicy | undefined;
  return defined({
    name: text(env, 'TRIBUTARY_CAPTURE_NAME'),
    databaseUrl: text(env, 'DATABASE_URL'),
    outbox: nonEmpty(
      defined({
        schema: text(env, 'TRIBUTARY_SCHEMA'),
        eventsTable: text(env, 'TRIBUTARY_EVENTS_TABLE'),
      }),
    ),
    slot: nonEmpty(
      defined({
        name: text(env, 'TRIBUTARY_SLOT'),
        publication: text(env, 'TRIBUTARY_PUBLICATION'),
        create,
        createPublication: create,
      }),
    ),
    kafka: nonEmpty(
      defined({
        brokers,
        clientId: text(env, 'KAFKA_CLIENT_ID'),
        ssl: boolean(env, 'KAFKA_SSL'),
        maxRecordBytes: integer(env, 'KAFKA_MAX_RECORD_BYTES'),
      }),
    ),
    topics: nonEmpty(
      defined({
        partitions: integer(env, 'TRIBUTARY_TOPIC_PARTITIONS'),
        replicationFactor: integer(env, 'TRIBUTARY_TOPIC_REPLICATION_FACTOR'),
        minInsyncReplicas: integer(env, 'TRIBUTARY_TOPIC_MIN_INSYNC_REPLICAS'),
        checkpointTopic: text(env, 'TRIBUTARY_CHECKPOINT_TOPIC'),
        transactionTopic,
      }),
    ),
    router: nonEmpty(
      defined({
        topicPrefix: text(env, 'TRIBUTARY_TOPIC_PREFIX'),
        onUnroutable: unroutable,
      }),
    ),
    batch: nonEmpty(
      defined({
        maxEvents: integer(env, 'TRIBUTARY_BATCH_MAX_EVENTS'),
        maxBytes: integer(env, 'TRIBUTARY_BATCH_MAX_BYTES'),
        lingerMs: integer(env, 'TRIBUTARY_BATCH_LINGER_MS'),
        maxRequestBytes: integer(env, 'TRIBUTARY_BATCH_MAX_REQUEST_BYTES'),
        chunkMaxEvents: integer(env, 'TRIBUTARY_CHUNK_MAX_EVENTS'),
        chunkMaxBytes: integer(env, 'TRIBUTARY_CHUNK_MAX_BYTES'),
      }),
    ),
    heartbeatIntervalMs: integer(env, 'TRIBUTARY_HEARTBEAT_INTERVAL_MS'),
    standbyRetryMs: integer(env, 'TRIBUTARY_STANDBY_RETRY_MS'),
    progressIntervalMs: integer(env, 'TRIBUTARY_PROGRESS_INTERVAL_MS'),
    walSenderTimeoutMs: integer(env, 'TRIBUTARY_WAL_SENDER_TIMEOUT_MS'),
    replicationSilenceTimeoutMs: integer(env, 'TRIBUTARY_REPLICATION_SILENCE_TIMEOUT_MS'),
  });
}

function nonEmpty<T extends object>(value: T): T | undefined {
  return Object.keys(value).length === 0 ? undefined : value;
}

/**
 * Merges inputs, later ones winning, one level deep (so `{ kafka: { brokers } }` from the
 * environment keeps `kafka.clientId` from the file). Router columns merge one level deeper.
 */
export function mergeCaptureConfigInputs(
  ...inputs: readonly CaptureConfigInput[]
): CaptureConfigInput {
  const merged: Record<string, unknown> = {};
  for (const input of inputs) {
    for (const [key, value] of Object.entries(input)) {
      if (value === undefined) continue;
      const previous = merged[key];
      if (isPlainObject(value) && isPlainObject(previous)) {
        const next: Record<string, unknown> = { ...previous, ...value };
        if (key === 'router' && isPlainObject(previous.columns) && isPlainObject(value.columns)) {
          next.columns = { ...previous.columns, ...value.columns };
        }
        merged[key] = next;
      } else {
        merged[key] = value;
      }
    }
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads a JSON config file of capture settings (the shape of {@link CaptureConfigInput};
 * validated later by `resolveCaptureConfig`).
 *
 * @throws CaptureError `CAPTURE_CONFIG_INVALID` when the file is missing or not a JSON object.
 */
export async function readCaptureConfigFile(path: string): Promise<CaptureConfigInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CaptureError(
      'CAPTURE_CONFIG_INVALID',
      `Cannot read config file ${path}: ${String(error)}`,
    );
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('not a JSON object');
    }
    return parsed;
  } catch (error) {
    throw new CaptureError(
      'CAPTURE_CONFIG_INVALID',
      `Config file ${path} is not a JSON object: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
