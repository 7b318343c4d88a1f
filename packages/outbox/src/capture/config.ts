/**
 * Every setting of the WAL capturer, with its documented default, in one place (like
 * Debezium's `EventRouterConfigDefinition`). The CLI reads a JSON file and environment
 * variables into a {@link CaptureConfigInput}; {@link resolveCaptureConfig} fills in the
 * defaults and validates the result once, so the rest of the capturer never checks again.
 */
import { DEFAULT_TOPIC_PREFIX, DEFAULT_TOPIC_REPLACEMENT } from '@tributary/core';
import { resolveOutboxConfig, type OutboxConfig } from '../config.js';
import { CaptureError } from './errors.js';

/** What the router does with a row it cannot turn into a record (missing or invalid column). */
export type UnroutablePolicy = 'warn' | 'error' | 'fatal';

/** Outbox columns the router reads, by envelope field. */
export interface OutboxColumnMapping {
  /** Default `event_id`. Must hold a UUID. */
  readonly eventId: string;
  /** Default `aggregate_type`. */
  readonly aggregateType: string;
  /** Default `aggregate_id`. Becomes the record key. */
  readonly aggregateId: string;
  /** Default `aggregate_version`. */
  readonly aggregateVersion: string;
  /** Default `event_type`. */
  readonly eventType: string;
  /** Default `schema_version`. Missing column or null → 1. */
  readonly schemaVersion: string;
  /** Default `payload`. Becomes the record value (JSON text, as stored). */
  readonly payload: string;
  /** Default `metadata`. Missing column or null → `{}`. */
  readonly metadata: string;
  /** Default `occurred_at`. Missing column or null → the source commit time. */
  readonly occurredAt: string;
}

/** How outbox rows become Kafka records (Debezium's outbox event router, for Tributary's envelope). */
export interface RouterConfig {
  /** Prefix of every event topic. Default `events`. */
  readonly topicPrefix: string;
  /**
   * The topic name, where `${prefix}` is {@link topicPrefix} and `${routedByValue}` the value
   * of {@link routeByColumn}. Default `${prefix}.${routedByValue}` (so `events.Account`).
   */
  readonly topicReplacement: string;
  /** The column whose value names the topic. Default `aggregate_type`. */
  readonly routeByColumn: string;
  /** Column names per envelope field; defaults are the outbox table's own columns. */
  readonly columns: OutboxColumnMapping;
  /** Extra columns copied into headers, as `{ column: headerName }`. Default none. */
  readonly additionalHeaders: Readonly<Record<string, string>>;
  /**
   * A row that cannot be routed: `warn` logs a warning and skips it, `error` logs an error
   * and skips it, `fatal` halts the capturer (nothing after it is published). Default
   * `fatal`, because skipping an event breaks every consumer's version sequence.
   */
  readonly onUnroutable: UnroutablePolicy;
}

/** Kafka connection. */
export interface CaptureKafkaConfig {
  /** Bootstrap brokers (`KAFKA_BROKERS`, comma-separated). Required. */
  readonly brokers: readonly string[];
  /** Client id. Default `tributary-capture-<name>`. */
  readonly clientId: string;
  /** Use TLS. Default `false` (`KAFKA_SSL=true`). */
  readonly ssl: boolean;
  /** The Kafka transaction timeout given to the broker. Default 60,000 ms. */
  readonly transactionTimeoutMs: number;
  /**
   * Upper bound for producing and committing one batch. When it passes, the outcome is
   * unknown: the pipeline restarts from the checkpoint with a fresh producer. Default 30,000 ms.
   */
  readonly commitTimeoutMs: number;
  /**
   * First retry delay of the producer. kafkajs retries a transaction's first send after the
   * broker answers CONCURRENT_TRANSACTIONS (the previous commit's markers are still being
   * written); its default of 300 ms would cap us at about 3 transactions per second.
   * Default 5 ms.
   */
  readonly retryInitialMs: number;
  /** Producer retries (kafkajs `retry.retries`) before a send counts as failed. Default 12. */
  readonly retries: number;
  /** Compression of produced batches: `none` or `gzip` (built into kafkajs). Default `none`. */
  readonly compression: 'none' | 'gzip';
  /**
   * Replace kafkajs's record encoder with a byte-identical one that allocates once per
   * record (2–2.5× the produce rate with Tributary's headers). Default `true`.
   */
  readonly fastRecordEncoder: boolean;
  /**
   * Largest record batch the broker and the topics accept (`message.max.bytes` /
   * `max.message.bytes`), measured as Kafka frames one record alone: UTF-8 key, value and
   * headers plus framing. A record over it halts capture with `CAPTURE_RECORD_TOO_LARGE`
   * naming the event instead of failing the Kafka transaction over and over. Default
   * 1,048,588 (the broker default). Must be at least `batch.maxRequestBytes`.
   */
  readonly maxRecordBytes: number;
}

/** Topic creation and checks. */
export interface CaptureTopicsConfig {
  /** Create missing event topics (and the checkpoint topic). Default `true`. */
  readonly create: boolean;
  /** Partitions of created event topics. Default 3. */
  readonly partitions: number;
  /**
   * Replication factor of created topics; -1 = the broker's `default.replication.factor`.
   * Default -1 (works on one broker; set 3 on a production cluster).
   */
  readonly replicationFactor: number;
  /**
   * `min.insync.replicas` of created topics: with the producer's `acks=all`, a write
   * succeeds only once this many replicas have it; -1 = the broker's `min.insync.replicas`.
   * Default -1 (set 2 with a replication factor of 3: one broker may die without loss or
   * stall). Must not exceed a positive {@link replicationFactor}.
   */
  readonly minInsyncReplicas: number;
  /** Compacted topic holding one checkpoint per capturer name. Default `tributary.capture.checkpoints`. */
  readonly checkpointTopic: string;
  /** Optional topic with one record per source transaction (xid, commit LSN, event count). Default none. */
  readonly transactionTopic: string | null;
  /**
   * How often the partition count of every event topic in use is compared with the count
   * recorded at first use (a change halts with `CAPTURE_PARTITIONS_CHANGED`). Records are
   * always sent to the partition the recorded count gives, so nothing reaches a new layout
   * in between. Default 30,000 ms.
   */
  readonly partitionCheckIntervalMs: number;
}

/** How source transactions are grouped into Kafka transactions. */
export interface CaptureBatchConfig {
  /**
   * Events per Kafka transaction when whole source transactions are grouped (a single
   * source transaction up to the chunk limits still goes whole). Default 10,000.
   */
  readonly maxEvents: number;
  /** Record bytes (key + value + headers) per Kafka transaction. Default 16 MiB. */
  readonly maxBytes: number;
  /** How long the first source transaction of a batch waits for company. Default 5 ms. */
  readonly lingerMs: number;
  /**
   * Bytes per produce request inside a transaction. Kafka rejects a partition batch over
   * `max.message.bytes` (1 MiB by default) and kafkajs does not split requests, so a Kafka
   * transaction is sent in chunks of at most this size. Default 900 KiB.
   */
  readonly maxRequestBytes: number;
  /**
   * How long a quiet position (keepalive, heartbeat, skipped transactions) waits before a
   * checkpoint-only Kafka transaction records it; the slot is confirmed up to it only then,
   * so at most one such transaction per this interval while the outbox is idle. Default
   * 1,000 ms.
   */
  readonly quietLingerMs: number;
  /**
   * A source transaction with more events than this is split over several Kafka
   * transactions of at most this many of its events, each committed with the position
   * inside the source transaction (commit LSN + sequence). A `read_committed` consumer
   * then sees a prefix of that source transaction until its last chunk commits. Smaller
   * source transactions stay whole. Default 10,000.
   */
  readonly chunkMaxEvents: number;
  /** Like `chunkMaxEvents`, in record bytes (key + value + headers). Default 16 MiB. */
  readonly chunkMaxBytes: number;
}

/** Replication slot and publication. */
export interface CaptureSlotConfig {
  /** Logical replication slot (pgoutput). Default `tributary_<name>`. */
  readonly name: string;
  /** Create the slot when it does not exist and no checkpoint exists yet. Default `true`. */
  readonly create: boolean;
  /** Publication on the outbox table (inserts only). Default `tributary_<name>`. */
  readonly publication: string;
  /** Create the publication when it does not exist. Default `true`. */
  readonly createPublication: boolean;
}

/** The capturer's complete, validated configuration. */
export interface CaptureConfig {
  /**
   * Name of this capturer: the checkpoint key, part of the transactional id (which fences
   * zombies) and of the default slot and publication names. Default `default`.
   */
  readonly name: string;
  /** PostgreSQL URL (`DATABASE_URL`); the role needs REPLICATION. Required. */
  readonly databaseUrl: string;
  /** Schema and table of the outbox. Defaults: `tributary.events`. */
  readonly outbox: OutboxConfig;
  readonly slot: CaptureSlotConfig;
  readonly kafka: CaptureKafkaConfig;
  readonly topics: CaptureTopicsConfig;
  readonly router: RouterConfig;
  readonly batch: CaptureBatchConfig;
  /**
   * Interval of `pg_logical_emit_message` heartbeats. They let the slot's confirmed position
   * advance while the outbox is idle and other tables fill the WAL. 0 disables. Default 10,000 ms.
   */
  readonly heartbeatIntervalMs: number;
  /** Prefix of heartbeat messages. Default `tributary.heartbeat`. */
  readonly heartbeatPrefix: string;
  /** How often a standby checks whether the slot became free. Default 2,000 ms. */
  readonly standbyRetryMs: number;
  /** First delay before restarting a failed pipeline (doubles up to 30 s). Default 500 ms. */
  readonly restartBackoffMs: number;
  /** Interval of progress and lag log lines. 0 disables. Default 10,000 ms. */
  readonly progressIntervalMs: number;
  /**
   * `wal_sender_timeout` for this capturer's replication connection: how soon PostgreSQL
   * drops a walsender whose client stopped answering (so a standby can take over a hung
   * instance's slot). `null` keeps the server setting (60 s by default). Default `null`.
   */
  readonly walSenderTimeoutMs: number | null;
  /**
   * A replication stream that delivers nothing at all (no change, heartbeat or keepalive)
   * for this long is treated as dead and restarted. PostgreSQL asks an idle client for a
   * reply every `wal_sender_timeout / 2` (30 s by default), so a live stream is never
   * silent this long; a half-open connection (the peer's host or network gone without a
   * reset) is, and would otherwise hang capture for good. 0 disables (needed only when the
   * server runs with `wal_sender_timeout = 0` and heartbeats are off). Default 120,000 ms.
   */
  readonly replicationSilenceTimeoutMs: number;
}

/** A deep partial of {@link CaptureConfig}: what files, environment variables and flags provide. */
export interface CaptureConfigInput {
  readonly name?: string;
  readonly databaseUrl?: string;
  readonly outbox?: Partial<OutboxConfig>;
  readonly slot?: Partial<CaptureSlotConfig>;
  readonly kafka?: Partial<CaptureKafkaConfig>;
  readonly topics?: Partial<CaptureTopicsConfig>;
  readonly router?: Partial<Omit<RouterConfig, 'columns'>> & {
    readonly columns?: Partial<OutboxColumnMapping>;
  };
  readonly batch?: Partial<CaptureBatchConfig>;
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatPrefix?: string;
  readonly standbyRetryMs?: number;
  readonly restartBackoffMs?: number;
  readonly progressIntervalMs?: number;
  readonly walSenderTimeoutMs?: number | null;
  readonly replicationSilenceTimeoutMs?: number;
}

/** The router defaults. */
export const defaultRouterConfig: RouterConfig = {
  topicPrefix: DEFAULT_TOPIC_PREFIX,
  topicReplacement: DEFAULT_TOPIC_REPLACEMENT,
  routeByColumn: 'aggregate_type',
  columns: {
    eventId: 'event_id',
    aggregateType: 'aggregate_type',
    aggregateId: 'aggregate_id',
    aggregateVersion: 'aggregate_version',
    eventType: 'event_type',
    schemaVersion: 'schema_version',
    payload: 'payload',
    metadata: 'metadata',
    occurredAt: 'occurred_at',
  },
  additionalHeaders: {},
  onUnroutable: 'fatal',
};

/** Defaults that do not depend on the capturer's name. */
export const captureDefaults = {
  name: 'default',
  kafka: {
    ssl: false,
    transactionTimeoutMs: 60_000,
    commitTimeoutMs: 30_000,
    retryInitialMs: 5,
    retries: 12,
    compression: 'none',
    fastRecordEncoder: true,
    maxRecordBytes: 1_048_588,
  },
  topics: {
    create: true,
    partitions: 3,
    replicationFactor: -1,
    minInsyncReplicas: -1,
    checkpointTopic: 'tributary.capture.checkpoints',
    transactionTopic: null,
    partitionCheckIntervalMs: 30_000,
  },
  batch: {
    maxEvents: 10_000,
    maxBytes: 16 * 1024 * 1024,
    lingerMs: 5,
    maxRequestBytes: 900 * 1024,
    quietLingerMs: 1_000,
    chunkMaxEvents: 10_000,
    chunkMaxBytes: 16 * 1024 * 1024,
  },
  slot: { create: true, createPublication: true },
  heartbeatIntervalMs: 10_000,
  heartbeatPrefix: 'tributary.heartbeat',
  standbyRetryMs: 2_000,
  restartBackoffMs: 500,
  progressIntervalMs: 10_000,
  walSenderTimeoutMs: null,
  replicationSilenceTimeoutMs: 120_000,
} as const;

const CAPTURER_NAME = /^[a-z0-9_]{1,40}$/;
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/**
 * Fills in defaults and validates.
 *
 * @throws CaptureError `CAPTURE_CONFIG_INVALID` listing every problem found.
 */
export function resolveCaptureConfig(input: CaptureConfigInput): CaptureConfig {
  const problems: string[] = [];
  const name = input.name ?? captureDefaults.name;
  if (!CAPTURER_NAME.test(name)) {
    problems.push(`name ${JSON.stringify(name)} must match ${CAPTURER_NAME.source}`);
  }
  const databaseUrl = input.databaseUrl ?? '';
  if (databaseUrl === '') problems.push('databaseUrl is required (DATABASE_URL)');

  let outbox: OutboxConfig = resolveOutboxConfig();
  try {
    outbox = resolveOutboxConfig(input.outbox ?? {});
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }

  const slot: CaptureSlotConfig = {
    name: `tributary_${name}`,
    publication: `tributary_${name}`,
    ...captureDefaults.slot,
    ...input.slot,
  };
  if (!SLOT_NAME.test(slot.name)) {
    problems.push(`slot.name ${JSON.stringify(slot.name)} must match ${SLOT_NAME.source}`);
  }
  if (!SLOT_NAME.test(slot.publication)) {
    problems.push(
      `slot.publication ${JSON.stringify(slot.publication)} must match ${SLOT_NAME.source}`,
    );
  }

  const kafka: CaptureKafkaConfig = {
    clientId: `tributary-capture-${name}`,
    brokers: [],
    ...captureDefaults.kafka,
    ...input.kafka,
  };
  if (kafka.brokers.length === 0) problems.push('kafka.brokers is required (KAFKA_BROKERS)');
  if (kafka.compression !== 'none' && kafka.compression !== 'gzip') {
    problems.push(`kafka.compression must be none or gzip, not ${String(kafka.compression)}`);
  }

  const topics: CaptureTopicsConfig = { ...captureDefaults.topics, ...input.topics };
  for (const [field, topic] of [
    ['topics.checkpointTopic', topics.checkpointTopic],
    ['topics.transactionTopic', topics.transactionTopic],
  ] as const) {
    if (topic !== null && !TOPIC_NAME.test(topic)) {
      problems.push(`${field} ${JSON.stringify(topic)} is not a valid Kafka topic name`);
    }
  }

  const router: RouterConfig = {
    ...defaultRouterConfig,
    ...input.router,
    columns: { ...defaultRouterConfig.columns, ...input.router?.columns },
    additionalHeaders: { ...input.router?.additionalHeaders },
  };
  if (!['warn', 'error', 'fatal'].includes(router.onUnroutable)) {
    problems.push(`router.onUnroutable must be warn, error or fatal, not ${router.onUnroutable}`);
  }
  if (!router.topicReplacement.includes('${routedByValue}')) {
    problems.push('router.topicReplacement must contain ${routedByValue}');
  }

  const batch: CaptureBatchConfig = { ...captureDefaults.batch, ...input.batch };

  const config: CaptureConfig = {
    name,
    databaseUrl,
    outbox,
    slot,
    kafka,
    topics,
    router,
    batch,
    heartbeatIntervalMs: input.heartbeatIntervalMs ?? captureDefaults.heartbeatIntervalMs,
    heartbeatPrefix: input.heartbeatPrefix ?? captureDefaults.heartbeatPrefix,
    standbyRetryMs: input.standbyRetryMs ?? captureDefaults.standbyRetryMs,
    restartBackoffMs: input.restartBackoffMs ?? captureDefaults.restartBackoffMs,
    progressIntervalMs: input.progressIntervalMs ?? captureDefaults.progressIntervalMs,
    walSenderTimeoutMs: input.walSenderTimeoutMs ?? captureDefaults.walSenderTimeoutMs,
    replicationSilenceTimeoutMs:
      input.replicationSilenceTimeoutMs ?? captureDefaults.replicationSilenceTimeoutMs,
  };

  const positive: [string, number][] = [
    ['kafka.transactionTimeoutMs', kafka.transactionTimeoutMs],
    ['kafka.commitTimeoutMs', kafka.commitTimeoutMs],
    ['kafka.retries', kafka.retries],
    ['topics.partitions', topics.partitions],
    ['batch.maxEvents', batch.maxEvents],
    ['batch.maxBytes', batch.maxBytes],
    ['batch.maxRequestBytes', batch.maxRequestBytes],
    ['batch.chunkMaxEvents', batch.chunkMaxEvents],
    ['batch.chunkMaxBytes', batch.chunkMaxBytes],
    ['kafka.maxRecordBytes', kafka.maxRecordBytes],
    ['topics.partitionCheckIntervalMs', topics.partitionCheckIntervalMs],
    ['standbyRetryMs', config.standbyRetryMs],
    ['restartBackoffMs', config.restartBackoffMs],
  ];
  const nonNegative: [string, number][] = [
    ['kafka.retryInitialMs', kafka.retryInitialMs],
    ['batch.lingerMs', batch.lingerMs],
    ['batch.quietLingerMs', batch.quietLingerMs],
    ['heartbeatIntervalMs', config.heartbeatIntervalMs],
    ['progressIntervalMs', config.progressIntervalMs],
    ['replicationSilenceTimeoutMs', config.replicationSilenceTimeoutMs],
  ];
  for (const [field, value] of positive) {
    if (!Number.isSafeInteger(value) || value < 1) {
      problems.push(`${field} must be a positive integer, not ${String(value)}`);
    }
  }
  for (const [field, value] of nonNegative) {
    if (!Number.isSafeInteger(value) || value < 0) {
      problems.push(`${field} must be a non-negative integer, not ${String(value)}`);
    }
  }
  if (
    config.walSenderTimeoutMs !== null &&
    (!Number.isSafeInteger(config.walSenderTimeoutMs) || config.walSenderTimeoutMs < 1)
  ) {
    problems.push('walSenderTimeoutMs must be a positive integer or null');
  }
  if (kafka.maxRecordBytes < batch.maxRequestBytes) {
    problems.push(
      `kafka.maxRecordBytes (${kafka.maxRecordBytes}) must be at least batch.maxRequestBytes (${batch.maxRequestBytes}): requests are filled up to that size`,
    );
  }
  if (!Number.isSafeInteger(topics.replicationFactor) || topics.replicationFactor === 0) {
    problems.push('topics.replicationFactor must be -1 or a positive integer');
  }
  if (!Number.isSafeInteger(topics.minInsyncReplicas) || topics.minInsyncReplicas === 0) {
    problems.push('topics.minInsyncReplicas must be -1 or a positive integer');
  } else if (topics.replicationFactor > 0 && topics.minInsyncReplicas > topics.replicationFactor) {
    problems.push(
      `topics.minInsyncReplicas (${topics.minInsyncReplicas}) must not exceed topics.replicationFactor (${topics.replicationFactor}): every acks=all write would fail with NOT_ENOUGH_REPLICAS`,
    );
  }

  if (problems.length > 0) {
    throw new CaptureError(
      'CAPTURE_CONFIG_INVALID',
      `Invalid capture configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
      { details: { problems } },
    );
  }
  return config;
}
