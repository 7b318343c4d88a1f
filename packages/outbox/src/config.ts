import { DEFAULT_MAX_PAYLOAD_BYTES, InvalidIdentifierError } from '@tributary/core';

/**
 * SQL identifiers (schema and table names) must match this pattern. They are validated
 * here and then always double-quoted, never interpolated raw, so configuration cannot
 * inject SQL. Lower case only, so the quoted name equals the unquoted one in psql.
 */
export const SQL_IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

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
 * @throws InvalidIdentifierError for a schema or table name outside {@link SQL_IDENTIFIER_PATTERN}.
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

/** @throws InvalidIdentifierError unless `value` matches {@link SQL_IDENTIFIER_PATTERN}. */
export function assertSqlIdentifier(kind: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !SQL_IDENTIFIER_PATTERN.test(value)) {
    throw new InvalidIdentifierError(kind, value, `must match ${SQL_IDENTIFIER_PATTERN.source}`);
  }
}

/** Double-quotes a validated identifier. */
export function quoteIdentifier(kind: string, value: string): string {
  assertSqlIdentifier(kind, value);
  return `"${value}"`;
}

/** `"schema"."table"`, both validated. */
export function qualifiedTable(
  config: OutboxConfig,
  table: 'eventsTable' | 'snapshotsTable',
): string {
  return `${quoteIdentifier('schema', config.schema)}.${quoteIdentifier(table, config[table])}`;
}
