/**
 * The outbox event router: a pure function from one outbox row (as pgoutput text) to one
 * Kafka record, in the record format of `@tributary/core` (`envelopeHeaders`), plus the
 * source commit LSN and the row's position in its transaction. No I/O, no clock: the same
 * row and context always give the same record, which is what makes re-publishing after a
 * crash produce identical records.
 */
import {
  assertAggregateId,
  assertAggregateType,
  assertEventId,
  assertEventType,
  assertVersion,
  envelopeHeaders,
  EventHeaders,
  type EventEnvelope,
  type EventMetadata,
  topicFor,
} from '@tributary/core';
import type { RouterConfig } from './config.js';
import { formatLsn } from './lsn.js';

/** One outbox row as pgoutput sends it: every column as text, or `null`. */
export type OutboxRow = Readonly<Record<string, string | null>>;

/** Where a row sits in the WAL. */
export interface RouteContext {
  /** Commit LSN of the source transaction. */
  readonly commitLsn: bigint;
  /** 0-based position of the row among the transaction's outbox rows. */
  readonly sequence: number;
  /** Commit time of the source transaction, ISO-8601; used when the row has no `occurred_at`. */
  readonly commitTime: string;
}

/** A record ready for the producer. */
export interface CaptureRecord {
  readonly topic: string;
  /** The aggregate id, so one aggregate's events share a partition and stay ordered. */
  readonly key: string;
  /** The payload JSON, as stored. */
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  /** Approximate size on the wire (key, value, header names and values), for batch limits. */
  readonly sizeBytes: number;
  readonly eventId: string;
}

/**
 * A routed row: the record, and the envelope the router built it from, so a payload
 * encoder gets the envelope as it is instead of parsing it back out of the headers.
 */
export interface RoutedRow {
  readonly routed: true;
  readonly record: CaptureRecord;
  /** The row's envelope; `payload` is left `undefined` (the record value holds it as stored). */
  readonly envelope: EventEnvelope;
  /** The payload column as stored (JSON text), parsed only by those who need the value. */
  readonly payloadJson: string;
}

/** The outcome of routing one row. */
export type RouteResult =
  RoutedRow | { readonly routed: false; readonly reason: string; readonly eventId: string | null };

/** Routes one outbox row. Never throws: a bad row is reported as `{ routed: false }`. */
export type OutboxRouter = (row: OutboxRow, context: RouteContext) => RouteResult;

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const POSTGRES_TIMESTAMP =
  /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}(?::?\d{2})?(?::?\d{2})?)?$/;

/**
 * Converts PostgreSQL's ISO timestamptz output (`2024-05-01 10:00:00.123456+00`) to
 * ISO-8601 with milliseconds (`2024-05-01T10:00:00.123Z`), the format of the event store.
 *
 * @throws TypeError for text that is not such a timestamp.
 */
export function toIsoTimestamp(text: string): string {
  // Rows of one transaction usually share their timestamp (now() is the transaction's start).
  if (text === lastTimestamp.text) return lastTimestamp.iso;
  const iso = parseIsoTimestamp(text);
  lastTimestamp = { text, iso };
  return iso;
}

let lastTimestamp = { text: '', iso: '' };

function parseIsoTimestamp(text: string): string {
  const match = POSTGRES_TIMESTAMP.exec(text);
  if (match === null) throw new TypeError(`not an ISO timestamp: ${JSON.stringify(text)}`);
  const [, date, time, fraction = '', zone = 'Z'] = match;
  const millis = fraction === '' ? '' : fraction.slice(0, 4).padEnd(4, '0');
  let offset = zone;
  if (zone !== 'Z') {
    // Postgres prints "+00", "+05:30" or "+05:30:15"; JavaScript wants "+HH:MM".
    const digits = zone.slice(1).replaceAll(':', '');
    offset = `${zone[0] ?? '+'}${digits.slice(0, 2)}:${digits.slice(2, 4).padEnd(2, '0')}`;
  }
  const parsed = new Date(`${date ?? ''}T${time ?? ''}${millis}${offset}`);
  if (Number.isNaN(parsed.getTime())) {
    throw new TypeError(`not a valid timestamp: ${JSON.stringify(text)}`);
  }
  return parsed.toISOString();
}

/** A column's text; throws naming the column when it is missing or null. */
function requiredColumn(row: OutboxRow, column: string): string {
  const value = row[column];
  if (value === undefined) throw new Error(`column ${column} is not in the row`);
  if (value === null) throw new Error(`column ${column} is null`);
  return value;
}

/** Creates the router for a configuration. Caches topic names per routed-by value. */
export function createOutboxRouter(config: RouterConfig): OutboxRouter {
  const { columns } = config;
  const topics = new Map<string, string | Error>();
  const extraHeaders = Object.entries(config.additionalHeaders);
  // The rows of a source transaction arrive one after another and share its commit LSN:
  // its text form is computed once per transaction, not once per row.
  let lastCommitLsn = -1n;
  let lastCommitLsnText = '';

  const resolveTopic = (value: string): string => {
    let topic = topics.get(value);
    if (topic === undefined) {
      const name = topicFor(config, value);
      topic = TOPIC_NAME.test(name)
        ? name
        : new Error(`topic ${JSON.stringify(name)} is not a valid Kafka topic name`);
      // Bounded in practice by the number of aggregate types; a runaway routing column
      // would be a configuration error that the router reports row by row anyway.
      if (topics.size < 10_000) topics.set(value, topic);
    }
    if (topic instanceof Error) throw topic;
    return topic;
  };

  return (row, context) => {
    const eventIdText = row[columns.eventId] ?? null;
    try {
      const eventId = requiredColumn(row, columns.eventId);
      assertEventId(eventId);
      const aggregateType = requiredColumn(row, columns.aggregateType);
      assertAggregateType(aggregateType);
      const aggregateId = requiredColumn(row, columns.aggregateId);
      assertAggregateId(aggregateId);
      const aggregateVersion = Number(requiredColumn(row, columns.aggregateVersion));
      assertVersion('aggregate version', aggregateVersion, 1);
      const eventType = requiredColumn(row, columns.eventType);
      assertEventType(eventType);
      const schemaVersionText = row[columns.schemaVersion] ?? null;
      const schemaVersion = schemaVersionText === null ? 1 : Number(schemaVersionText);
      assertVersion('schema version', schemaVersion, 1);
      const payload = requiredColumn(row, columns.payload);
      const metadataText = row[columns.metadata] ?? null;
      const metadata =
        metadataText === null ? {} : (JSON.parse(metadataText) as EventMetadata | null);
      if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
        throw new Error(`column ${columns.metadata} is not a JSON object`);
      }
      const occurredAtText = row[columns.occurredAt] ?? null;
      const occurredAt =
        occurredAtText === null ? context.commitTime : toIsoTimestamp(occurredAtText);
      const routedBy = row[config.routeByColumn];
      if (routedBy === undefined || routedBy === null || routedBy === '') {
        throw new Error(`route-by column ${config.routeByColumn} is missing or empty`);
      }
      const topic = resolveTopic(routedBy);

      const envelope: EventEnvelope = {
        eventId,
        aggregateType,
        aggregateId,
        aggregateVersion,
        eventType,
        schemaVersion,
        payload: undefined,
        metadata,
        occurredAt,
      };
      const headers = envelopeHeaders(envelope);
      if (context.commitLsn !== lastCommitLsn) {
        lastCommitLsnText = formatLsn(context.commitLsn);
        lastCommitLsn = context.commitLsn;
      }
      headers[EventHeaders.commitLsn] = lastCommitLsnText;
      headers[EventHeaders.transactionSequence] = String(context.sequence);
      for (const [column, header] of extraHeaders) {
        const value = row[column];
        if (value !== undefined && value !== null) headers[header] = value;
      }
      const value = Buffer.from(payload, 'utf8');
      let sizeBytes = aggregateId.length + value.length;
      for (const name in headers) sizeBytes += name.length + (headers[name]?.length ?? 0) + 2;
      return {
        routed: true,
        record: { topic, key: aggregateId, value, headers, sizeBytes, eventId },
        envelope,
        payloadJson: payload,
      };
    } catch (error) {
      return {
        routed: false,
        reason: error instanceof Error ? error.message : String(error),
        eventId: eventIdText,
      };
    }
  };
}
