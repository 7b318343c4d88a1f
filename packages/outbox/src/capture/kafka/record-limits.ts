/**
 * What the broker will take: record sizes as Kafka frames them, produce requests bounded by
 * bytes, and broker errors that no retry can fix. An event the broker can never accept
 * must halt capture, naming the event, instead of failing the same Kafka transaction
 * forever while the slot pins WAL until the disk fills.
 */
import { EventHeaders, isTributaryError } from '@tributary/core';
import { CaptureError } from '../errors.js';
import type { CaptureRecord } from '../router.js';

/** Header of a Kafka record batch (magic v2), before its records. */
export const RECORD_BATCH_OVERHEAD_BYTES = 61;
/** Worst-case framing of one record: length, attributes, timestamp and offset deltas, key, value and header-count varints. */
const RECORD_FRAMING_BYTES = 5 + 1 + 10 + 5 + 5 + 5 + 5;
/** Worst-case varints of one header (name length, value length). */
const HEADER_FRAMING_BYTES = 10;

const utf8Length = (text: string): number => Buffer.byteLength(text, 'utf8');

/** A message about to be sent, as the sink sees it (records, checkpoint, summaries). */
export interface SizedMessage {
  readonly key: string | null;
  readonly value: Uint8Array | string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Bytes of a Kafka zig-zag varint of `value`. */
function varintBytes(value: number): number {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  let bytes = 1;
  while (zigzag >= 128) {
    zigzag = Math.floor(zigzag / 128);
    bytes += 1;
  }
  return bytes;
}

/**
 * Exact bytes of a record batch holding `message` alone (magic v2: the batch header, then
 * the record's length, attributes, timestamp and offset deltas of 0, key, value and headers
 * with their varint lengths). This is what the broker compares with `message.max.bytes`,
 * and what the event stores' `eventRecordSize` computes at append: the two must agree, or
 * the store would accept an event that capture then refuses for good.
 */
export function recordBatchBytes(message: SizedMessage): number {
  const keyBytes = message.key === null ? -1 : utf8Length(message.key);
  const valueBytes =
    message.value === null
      ? -1
      : typeof message.value === 'string'
        ? utf8Length(message.value)
        : message.value.length;
  let body =
    1 + // attributes
    1 + // timestamp delta 0
    1 + // offset delta 0
    varintBytes(keyBytes) +
    Math.max(keyBytes, 0) +
    varintBytes(valueBytes) +
    Math.max(valueBytes, 0);
  let count = 0;
  for (const name in message.headers) {
    const nameBytes = utf8Length(name);
    const headerValueBytes = utf8Length(message.headers[name] ?? '');
    body += varintBytes(nameBytes) + nameBytes + varintBytes(headerValueBytes) + headerValueBytes;
    count += 1;
  }
  body += varintBytes(count);
  return RECORD_BATCH_OVERHEAD_BYTES + varintBytes(body) + body;
}

/** The event a record carries, for error messages and details. */
export function eventOf(record: CaptureRecord): Record<string, string | null> {
  return {
    eventId: record.eventId,
    aggregateType: record.headers[EventHeaders.aggregateType] ?? null,
    aggregateId: record.key,
    commitLsn: record.headers[EventHeaders.commitLsn] ?? null,
    topic: record.topic,
  };
}

const describe = (event: Record<string, string | null>): string =>
  `event ${String(event['eventId'])} (aggregate ${String(event['aggregateType'])}/${String(event['aggregateId'])}, commit LSN ${String(event['commitLsn'])}, topic ${String(event['topic'])})`;

/**
 * @throws CaptureError `CAPTURE_RECORD_TOO_LARGE` (not retriable) when the record alone
 * would exceed `maxRecordBytes`.
 */
export function assertRecordFits(record: CaptureRecord, maxRecordBytes: number): void {
  // `sizeBytes` counts key and header text in UTF-16 units; UTF-8 takes at most three bytes
  // for each, so the exact count is needed only near the limit.
  const textUnits = record.sizeBytes - record.value.length;
  const upperBound =
    RECORD_BATCH_OVERHEAD_BYTES +
    RECORD_FRAMING_BYTES +
    record.value.length +
    3 * textUnits +
    HEADER_FRAMING_BYTES * Object.keys(record.headers).length;
  if (upperBound <= maxRecordBytes) return;
  const bytes = recordBatchBytes(record);
  if (bytes <= maxRecordBytes) return;
  const event = eventOf(record);
  throw new CaptureError(
    'CAPTURE_RECORD_TOO_LARGE',
    `The Kafka record of ${describe(event)} takes ${bytes} bytes, over kafka.maxRecordBytes (${maxRecordBytes}, the broker's message.max.bytes by default): ` +
      'the broker would reject it on every attempt. Nothing of its source transaction was published and capture halted so that no later event overtakes it. ' +
      "Raise the broker's message.max.bytes and the topic's max.message.bytes and then KAFKA_MAX_RECORD_BYTES, or remove the row from the outbox after deciding what the event should have been.",
    { details: { ...event, bytes, maxRecordBytes } },
  );
}

/** Splits messages into produce requests of at most `maxBytes` (at least one message each). */
export function chunkBySize<T>(
  items: readonly T[],
  maxBytes: number,
  sizeOf: (item: T) => number,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Kafka errors that the same request gets again on every retry: sizes, authorisation,
 * invalid topics or settings. Retrying them from the checkpoint would loop forever.
 */
const PERMANENT_KAFKA_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'INVALID_REQUIRED_ACKS',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'POLICY_VIOLATION',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_CONFIG',
  'INVALID_TRANSACTION_TIMEOUT',
]);

/** The Kafka error name behind a client port error when no retry can fix it, else `undefined`. */
export function permanentKafkaError(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth += 1) {
    if (isTributaryError(current)) {
      const name = current.details['kafkaError'];
      if (typeof name === 'string' && PERMANENT_KAFKA_ERRORS.has(name)) return name;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** What to do about each permanent Kafka error, for the halt message. */
export function remedyFor(kafkaError: string): string {
  if (kafkaError.endsWith('TOO_LARGE') || kafkaError === 'INVALID_RECORD') {
    return "Compare the event's size with the topic's max.message.bytes and the broker's message.max.bytes, raise them (and KAFKA_MAX_RECORD_BYTES) or remove the row from the outbox after deciding what the event should have been.";
  }
  if (kafkaError.endsWith('AUTHORIZATION_FAILED')) {
    return 'Grant the capturer principal Write and Describe on the topics, Write on its transactional id (tributary.capture.<name>) and IdempotentWrite on the cluster, then start capture again.';
  }
  return 'Fix the topic or the capture settings the broker rejected, then start capture again.';
}

/** The halt for a permanent Kafka error met while sending `records` (may be empty). */
export function rejectedByKafka(
  kafkaError: string,
  records: readonly CaptureRecord[],
  what: string,
  cause: unknown,
): CaptureError {
  // The largest record is the likely culprit of a size error; the first otherwise.
  let blamed = records[0];
  if (kafkaError.endsWith('TOO_LARGE')) {
    for (const record of records) {
      if (blamed === undefined || record.sizeBytes > blamed.sizeBytes) blamed = record;
    }
  }
  const event = blamed === undefined ? undefined : eventOf(blamed);
  return new CaptureError(
    'CAPTURE_RECORD_REJECTED',
    `Kafka rejected ${what} with ${kafkaError}${event === undefined ? '' : ` at ${describe(event)}`}; ` +
      `retrying would be rejected again, so capture halted and nothing of the Kafka transaction was committed. ${remedyFor(kafkaError)}`,
    { cause, details: { kafkaError, ...event } },
  );
}
