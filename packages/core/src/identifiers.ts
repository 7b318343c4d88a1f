import { InvalidIdentifierError, InvalidVersionError } from './errors.js';

/**
 * Names that end up in topic names, SQL identifiers and headers are checked here, once,
 * for every store and adapter. Aggregate types become Kafka topic suffixes, so they use the
 * characters Kafka allows in topic names minus `.` (the prefix separator).
 */
export const AGGREGATE_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,99}$/;
/** Event types: a letter, then letters, digits, `_`, `-` and `.` (for namespaced names). */
export const EVENT_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,199}$/;
/** Aggregate ids are free text, but bounded and without control characters. */
export const MAX_AGGREGATE_ID_LENGTH = 200;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Throws {@link InvalidIdentifierError} unless `value` is a valid aggregate type. */
export function assertAggregateType(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !AGGREGATE_TYPE_PATTERN.test(value)) {
    throw new InvalidIdentifierError(
      'aggregate type',
      value,
      `must match ${AGGREGATE_TYPE_PATTERN.source} (it becomes part of a Kafka topic name)`,
    );
  }
}

/** Throws {@link InvalidIdentifierError} unless `value` is a valid event type. */
export function assertEventType(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !EVENT_TYPE_PATTERN.test(value)) {
    throw new InvalidIdentifierError(
      'event type',
      value,
      `must match ${EVENT_TYPE_PATTERN.source}`,
    );
  }
}

/** Throws {@link InvalidIdentifierError} unless `value` is a valid aggregate id. */
export function assertAggregateId(value: unknown): asserts value is string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_AGGREGATE_ID_LENGTH ||
    CONTROL_CHARACTERS.test(value)
  ) {
    throw new InvalidIdentifierError(
      'aggregate id',
      value,
      `must be a non-empty string of at most ${MAX_AGGREGATE_ID_LENGTH} characters without control characters`,
    );
  }
}

/** Throws {@link InvalidIdentifierError} unless `value` is a UUID. */
export function assertEventId(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !UUID_PATTERN.test(value)) {
    throw new InvalidIdentifierError('event id', value, 'must be a UUID');
  }
}

/**
 * Throws {@link InvalidVersionError} unless `value` is an integer ≥ `min`. Rejects NaN,
 * fractions, negative numbers and numbers beyond 2^53, which would silently lose precision.
 */
export function assertVersion(kind: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidVersionError(kind, value, `must be a safe integer ≥ ${min}`);
  }
}

/**
 * SQL identifiers (schema, table and projection names) must match this pattern. They are
 * validated, then always double-quoted, so configuration cannot inject SQL. Lower case only,
 * so the quoted name equals the unquoted one in psql.
 */
export const SQL_IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** @throws InvalidIdentifierError unless `value` matches {@link SQL_IDENTIFIER_PATTERN}. */
export function assertSqlIdentifier(kind: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !SQL_IDENTIFIER_PATTERN.test(value)) {
    throw new InvalidIdentifierError(kind, value, `must match ${SQL_IDENTIFIER_PATTERN.source}`);
  }
}

/** Double-quotes a validated SQL identifier. */
export function quoteIdentifier(kind: string, value: string): string {
  assertSqlIdentifier(kind, value);
  return `"${value}"`;
}
