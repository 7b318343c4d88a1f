import {
  assertSqlIdentifier,
  DEFAULT_MAX_PAYLOAD_BYTES,
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
  /** Table where knex records applied migrations. Default `knex_migrations` (in `schema`). */
  readonly migrationsTable: string;
  /** Largest accepted payload as UTF-8 JSON, in bytes. Default 1 MiB, Kafka's default message size. */
  readonly maxPayloadBytes: number;
}

/** The defaults of {@link OutboxConfig}. */
export const defaultOutboxConfig: OutboxConfig = {
  schema: 'tributary',
  eventsTable: 'events',
  snapshotsTable: 'snapshots',
  migrationsTable: 'knex_migrations',
  maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
};

/**
 * Fills in defaults and validates every identifier.
 *
 * @throws InvalidIdentifierError for a schema or table name outside core's `SQL_IDENTIFIER_PATTERN`.
 */
export function resolveOutboxConfig(overrides: Partial<OutboxConfig> = {}): OutboxConfig {
  const config = { ...defaultOutboxConfig, ...overrides };
  for (const key of ['schema', 'eventsTable', 'snapshotsTable', 'migrationsTable'] as const) {
    assertSqlIdentifier(key, config[key]);
  }
  if (!Number.isSafeInteger(config.maxPayloadBytes) || config.maxPayloadBytes < 1) {
    throw new InvalidIdentifierError(
      'maxPayloadBytes',
      config.maxPayloadBytes,
      'must be a positive integer',
    );
  }
  return config;
}

/** `"schema"."table"`, both validated. */
export function qualifiedTable(
  config: OutboxConfig,
  table: 'eventsTable' | 'snapshotsTable',
): string {
  return `${quoteIdentifier('schema', config.schema)}.${quoteIdentifier(table, config[table])}`;
}
