import {
  assertSqlIdentifier,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_MAX_RECORD_BYTES,
  InvalidIdentifierError,
  quoteIdentifier,
} from '@tributary/core';

// Schema and table names are validated and double-quoted by core's SQL identifier helpers
// (one rule for every package), never interpolated raw, so configuration cannot inject SQL.

/** Where the outbox lives and what it accepts. Every field has a documented default. */
export interface OutboxConfig {
  /** Schema of the outbox tables. Default `tributary`. */
  readonly schema: string;
  /** The outbox table, which is the event store. Default `events`. */
  readonly eventsTable: string;
  /** Snapshots of aggregate state. Default `snapshots`. */
  readonly snapshotsTable: string;
  /**
   * Command ids recorded with their appends, so a retried command appends nothing (see
   * `AppendOptions.commandId`). Default `commands`.
   */
  readonly commandsTable: string;
  /** Table where knex records applied migrations. Default `knex_migrations` (in `schema`). */
  readonly migrationsTable: string;
  /** Largest accepted payload as UTF-8 JSON, in bytes. Default 1 MiB, Kafka's default message size. */
  readonly maxPayloadBytes: number;
  /**
   * Largest Kafka record capture may publish for one event, as the broker measures it (the
   * record batch: key, payload as `jsonb` text, every header, framing). An event over it is
   * refused at append with `RECORD_TOO_LARGE`. Default 1,048,588, the broker's default
   * `message.max.bytes`; keep it at most the `max.message.bytes` of your event topics.
   */
  readonly maxRecordBytes: number;
}

/** The defaults of {@link OutboxConfig}. */
export const defaultOutboxConfig: OutboxConfig = {
  schema: 'tributary',
  eventsTable: 'events',
  snapshotsTable: 'snapshots',
  commandsTable: 'commands',
  migrationsTable: 'knex_migrations',
  maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
  maxRecordBytes: DEFAULT_MAX_RECORD_BYTES,
};

/**
 * Fills in defaults and validates every identifier.
 *
 * @throws InvalidIdentifierError for a schema or table name outside core's `SQL_IDENTIFIER_PATTERN`.
 */
export function resolveOutboxConfig(overrides: Partial<OutboxConfig> = {}): OutboxConfig {
  const config = { ...defaultOutboxConfig, ...overrides };
  for (const key of [
    'schema',
    'eventsTable',
    'snapshotsTable',
    'commandsTable',
    'migrationsTable',
  ] as const) {
    assertSqlIdentifier(key, config[key]);
  }
  for (const key of ['maxPayloadBytes', 'maxRecordBytes'] as const) {
    if (!Number.isSafeInteger(config[key]) || config[key] < 1) {
      throw new InvalidIdentifierError(key, config[key], 'must be a positive integer');
    }
  }
  return config;
}

/** `"schema"."table"`, both validated. */
export function qualifiedTable(
  config: OutboxConfig,
  table: 'eventsTable' | 'snapshotsTable' | 'commandsTable',
): string {
  return `${quoteIdentifier('schema', config.schema)}.${quoteIdentifier(table, config[table])}`;
}
