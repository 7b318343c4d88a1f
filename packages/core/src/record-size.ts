/**
 * The size of the Kafka record that capture publishes for an event, computed from the
 * envelope alone (no I/O), so both event stores can refuse at append an event that the
 * broker would refuse later. A refused record would stop capture for good: it cannot skip
 * the event (every consumer would see a version gap) and cannot publish it, so it would
 * restart forever while the replication slot pins WAL until the disk fills.
 *
 * What capture publishes (see the outbox router and `envelopeHeaders`):
 * - key: the aggregate id;
 * - value: the payload column as PostgreSQL renders `jsonb` text, which is not
 *   `JSON.stringify`: a space after every `,` and `:`, keys sorted by length then bytes, and
 *   numbers printed by `numeric_out`, without exponents (`1e-300` becomes `0.000…01`, 302
 *   characters);
 * - headers: the envelope headers of core's record format (metadata as `JSON.stringify` of
 *   the stored metadata, occurred-at as ISO-8601 with milliseconds), `content-type`, the
 *   commit LSN and the position in the source transaction;
 * - Kafka's framing: the record's varints and attributes, and the 61-byte header of the
 *   record batch that holds it. The broker compares `message.max.bytes` with the whole batch
 *   (12 bytes of log overhead included, hence the default of 1,048,588 = 1 MiB + 12), and a
 *   record that is alone in its batch is the smallest batch it can travel in.
 */
import type { EventEnvelope } from './envelope.js';
import { EventHeaders } from './record-format.js';

/**
 * Default largest Kafka record batch, in bytes: the broker's default `message.max.bytes`
 * (1 MiB plus 12 bytes of log overhead). Shared by the event stores (refuse at append) and
 * capture.
 */
export const DEFAULT_MAX_RECORD_BYTES = 1_048_588;

/** Bytes of a v2 record batch header (base offset, length, epoch, magic, CRC, … record count). */
export const RECORD_BATCH_OVERHEAD_BYTES = 61;

/** The longest commit LSN text capture can write (`FFFFFFFF/FFFFFFFF`). */
const LONGEST_LSN = 'FFFFFFFF/FFFFFFFF';
/** The longest aggregate version (the outbox column is a 32-bit integer). */
const LONGEST_VERSION = 2_147_483_647;
/** A bound for a row's position in its source transaction (10 digits). */
const LONGEST_SEQUENCE = 9_999_999_999;

/** What capture adds to an event's record, when known. */
export interface RecordSizeContext {
  /**
   * The commit LSN header as capture writes it (`X/Y`, upper-case hex). Default: the longest
   * possible (17 bytes), which makes the result an upper bound.
   */
  readonly commitLsn?: string;
  /** The event's 0-based position in its source transaction. Default: a 10-digit bound. */
  readonly transactionSequence?: number;
  /** The `content-type` header. Default `application/json` (capture without a registry). */
  readonly contentType?: string;
  /**
   * UTF-8 size of `JSON.stringify(payload)`, when the caller has it already (the stores
   * measured it while validating the payload); saves encoding the payload a second time.
   */
  readonly payloadJsonBytes?: number;
  /** UTF-8 size of `JSON.stringify(metadata)`, when the caller has it already. */
  readonly metadataJsonBytes?: number;
}

/** The parts of a record's size, in bytes. */
export interface RecordSize {
  /** The whole record batch holding only this record: what `message.max.bytes` limits. */
  readonly totalBytes: number;
  readonly keyBytes: number;
  /** The payload as `jsonb` text. */
  readonly valueBytes: number;
  /** Header names and values. */
  readonly headerBytes: number;
}

const encoder = new TextEncoder();

/** UTF-8 size of a string, counted without encoding it. */
function utf8Bytes(text: string): number {
  let bytes = text.length;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      // A surrogate pair: 2 UTF-16 units, 4 UTF-8 bytes (lone halves never pass validation).
      bytes += 2;
      index += 1;
    } else bytes += 2;
  }
  return bytes;
}

/** Size of a Kafka zig-zag varint. */
function varintBytes(value: number): number {
  let encoded = value >= 0 ? value * 2 : -value * 2 - 1;
  let bytes = 1;
  while (encoded >= 0x80) {
    encoded = Math.floor(encoded / 0x80);
    bytes += 1;
  }
  return bytes;
}

/**
 * A finite number as PostgreSQL's `numeric_out` prints it after `jsonb` parsed
 * `JSON.stringify`'s text: the same digits, but never an exponent (`1.5e-7` → `0.00000015`,
 * `1e+21` → `1000000000000000000000`).
 */
export function jsonbNumberText(value: number): string {
  const text = JSON.stringify(value);
  const exponentAt = text.indexOf('e');
  if (exponentAt < 0) return text;
  const negative = text.startsWith('-');
  const mantissa = text.slice(negative ? 1 : 0, exponentAt);
  const exponent = Number(text.slice(exponentAt + 1));
  const pointAt = mantissa.indexOf('.');
  const digits = pointAt < 0 ? mantissa : mantissa.slice(0, pointAt) + mantissa.slice(pointAt + 1);
  // Digits before the decimal point once the exponent is applied.
  const integerDigits = (pointAt < 0 ? mantissa.length : pointAt) + exponent;
  let body: string;
  if (integerDigits <= 0) body = `0.${'0'.repeat(-integerDigits)}${digits}`;
  else if (integerDigits >= digits.length)
    body = digits + '0'.repeat(integerDigits - digits.length);
  else body = `${digits.slice(0, integerDigits)}.${digits.slice(integerDigits)}`;
  return negative ? `-${body}` : body;
}

/** How much longer PostgreSQL prints a number than `JSON.stringify` does. */
function numberGrowth(value: number): number {
  const magnitude = Math.abs(value);
  // JavaScript prints an exponent only below 1e-6 and from 1e21 on.
  if (magnitude === 0 || (magnitude >= 1e-6 && magnitude < 1e21)) return 0;
  const text = JSON.stringify(value);
  return text.includes('e') ? jsonbNumberText(value).length - text.length : 0;
}

/**
 * How many bytes PostgreSQL's `jsonb` text of `value` has beyond `JSON.stringify(value)`:
 * one space per member and element separator, one per key separator, and the digits of
 * numbers that `JSON.stringify` prints with an exponent. Strings are escaped alike by both
 * (`\"`, `\\`, `\b \f \n \r \t`, `\u00XX` below 0x20, everything else as UTF-8).
 */
function jsonbGrowth(value: unknown): number {
  if (typeof value === 'number') return numberGrowth(value);
  if (typeof value !== 'object' || value === null) return 0;
  let growth = 0;
  if (Array.isArray(value)) {
    const items = value as readonly unknown[];
    if (items.length > 1) growth += items.length - 1;
    for (const item of items) growth += jsonbGrowth(item);
    return growth;
  }
  let members = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const child = (value as Record<string, unknown>)[key];
    // JSON.stringify leaves these out (functions and symbols never pass payload validation).
    if (child === undefined || typeof child === 'function' || typeof child === 'symbol') continue;
    members += 1;
    growth += 1 + jsonbGrowth(child);
  }
  if (members > 1) growth += members - 1;
  return growth;
}

/**
 * UTF-8 size of `value` as PostgreSQL renders it as `jsonb` text: what capture publishes as
 * the record value. `value` must be a valid payload (see `assertJsonPayload`).
 *
 * @param jsonBytes UTF-8 size of `JSON.stringify(value)`, when known.
 */
export function jsonbTextBytes(value: unknown, jsonBytes?: number): number {
  const base = jsonBytes ?? utf8Bytes(JSON.stringify(value));
  return base + jsonbGrowth(value);
}

/**
 * `value` rendered exactly as PostgreSQL prints a `jsonb` value, keys in jsonb order (shorter
 * keys first, then by bytes). A reference for tests and tooling; {@link jsonbTextBytes}
 * computes the size without building the text.
 */
export function renderJsonbText(value: unknown): string {
  if (typeof value === 'number') return jsonbNumberText(value);
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) {
    return `[${(value as readonly unknown[]).map((item) => renderJsonbText(item ?? null)).join(', ')}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(
    ([, child]) => child !== undefined && typeof child !== 'function' && typeof child !== 'symbol',
  );
  entries.sort(([a], [b]) => compareJsonbKeys(a, b));
  return `{${entries.map(([key, child]) => `${JSON.stringify(key)}: ${renderJsonbText(child)}`).join(', ')}}`;
}

function compareJsonbKeys(a: string, b: string): number {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  if (left.length !== right.length) return left.length - right.length;
  for (let index = 0; index < left.length; index += 1) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * The size of the Kafka record batch that capture publishes for `envelope` when the record
 * is alone in its batch (what the broker compares with `message.max.bytes`), uncompressed.
 * Exact when `context` gives the commit LSN and transaction sequence; otherwise those two
 * headers count at their longest, so the result is an upper bound (at most 23 bytes over).
 */
export function eventRecordSize(
  envelope: EventEnvelope,
  context: RecordSizeContext = {},
): RecordSize {
  return recordSize(envelope, envelope.aggregateVersion, context);
}

/** {@link eventRecordSize} with the version apart, so a bound needs no copy of the envelope. */
function recordSize(
  envelope: Omit<EventEnvelope, 'aggregateVersion'>,
  aggregateVersion: number,
  context: RecordSizeContext,
): RecordSize {
  // The headers of `envelopeHeaders` plus capture's two, measured without building them
  // (this runs for every appended event); a unit test holds it equal to `envelopeHeaders`.
  let headerBytes = 0;
  let framing = 0;
  let count = 0;
  const add = (nameBytes: number, valueBytes: number): void => {
    headerBytes += nameBytes + valueBytes;
    framing += varintBytes(nameBytes) + varintBytes(valueBytes);
    count += 1;
  };
  add(NAME_BYTES.eventId, utf8Bytes(envelope.eventId));
  add(NAME_BYTES.aggregateType, utf8Bytes(envelope.aggregateType));
  add(NAME_BYTES.aggregateId, utf8Bytes(envelope.aggregateId));
  add(NAME_BYTES.aggregateVersion, String(aggregateVersion).length);
  add(NAME_BYTES.eventType, utf8Bytes(envelope.eventType));
  add(NAME_BYTES.schemaVersion, String(envelope.schemaVersion).length);
  add(NAME_BYTES.occurredAt, publishedTimestampBytes(envelope.occurredAt));
  add(
    NAME_BYTES.metadata,
    context.metadataJsonBytes ?? utf8Bytes(JSON.stringify(envelope.metadata)),
  );
  add(NAME_BYTES.contentType, utf8Bytes(context.contentType ?? 'application/json'));
  const { correlationId, causationId, traceparent } = envelope.metadata;
  if (typeof correlationId === 'string') add(NAME_BYTES.correlationId, utf8Bytes(correlationId));
  if (typeof causationId === 'string') add(NAME_BYTES.causationId, utf8Bytes(causationId));
  if (typeof traceparent === 'string') add(NAME_BYTES.traceparent, utf8Bytes(traceparent));
  add(NAME_BYTES.commitLsn, (context.commitLsn ?? LONGEST_LSN).length);
  add(
    NAME_BYTES.transactionSequence,
    String(context.transactionSequence ?? LONGEST_SEQUENCE).length,
  );
  const keyBytes = utf8Bytes(envelope.aggregateId);
  const valueBytes = jsonbTextBytes(envelope.payload, context.payloadJsonBytes);
  const body =
    1 + // attributes
    1 + // timestamp delta (0: first record of its batch)
    1 + // offset delta (0)
    varintBytes(keyBytes) +
    keyBytes +
    varintBytes(valueBytes) +
    valueBytes +
    varintBytes(count) +
    framing +
    headerBytes;
  return {
    totalBytes: RECORD_BATCH_OVERHEAD_BYTES + varintBytes(body) + body,
    keyBytes,
    valueBytes,
    headerBytes,
  };
}

const NAME_BYTES = Object.fromEntries(
  Object.entries(EventHeaders).map(([field, name]) => [field, name.length]),
) as Record<keyof typeof EventHeaders, number>;

const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Capture reads occurred_at back from a timestamptz and publishes ISO-8601 with milliseconds. */
function publishedTimestampBytes(occurredAt: string): number {
  if (ISO_MILLIS.test(occurredAt)) return occurredAt.length;
  const time = new Date(occurredAt);
  return Number.isNaN(time.getTime()) ? utf8Bytes(occurredAt) : time.toISOString().length;
}

/**
 * An upper bound of {@link eventRecordSize} for an event that is not numbered yet: the
 * aggregate version counts at its longest (10 digits), like the LSN and sequence headers.
 * This is what the stores check at append, before the database assigns versions: at most
 * 32 bytes over the exact size.
 */
export function unnumberedEventRecordSize(
  envelope: Omit<EventEnvelope, 'aggregateVersion'>,
  context: RecordSizeContext = {},
): RecordSize {
  return recordSize(envelope, LONGEST_VERSION, context);
}
