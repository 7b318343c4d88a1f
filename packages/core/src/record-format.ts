import type { EventEnvelope, EventMetadata } from './envelope.js';
import { InvalidEventError } from './errors.js';
import {
  assertAggregateId,
  assertAggregateType,
  assertEventId,
  assertEventType,
  assertVersion,
} from './identifiers.js';

/**
 * Names of the Kafka record headers that carry the event envelope. The record key is the
 * aggregate id and the value is the payload; everything else travels here, so consumers
 * can route, order-check and deduplicate without decoding the value.
 */
export const EventHeaders = {
  eventId: 'tributary.event_id',
  aggregateType: 'tributary.aggregate_type',
  aggregateId: 'tributary.aggregate_id',
  aggregateVersion: 'tributary.aggregate_version',
  eventType: 'tributary.event_type',
  schemaVersion: 'tributary.schema_version',
  occurredAt: 'tributary.occurred_at',
  /** The envelope's metadata as JSON (correlation and causation ids included). */
  metadata: 'tributary.metadata',
  correlationId: 'tributary.correlation_id',
  causationId: 'tributary.causation_id',
  /** W3C trace context, under its standard name so tracing tools find it. */
  traceparent: 'traceparent',
  /** `application/json`, or `application/vnd.schemaregistry` for registry wire format. */
  contentType: 'content-type',
  /** Commit LSN of the source Postgres transaction (set by the capturer), as `X/Y`. */
  commitLsn: 'tributary.commit_lsn',
  /** Position of the event inside its source transaction, 0-based (set by the capturer). */
  transactionSequence: 'tributary.tx_seq',
} as const;

/** A Kafka-shaped record: what the capturer produces and the projection runtime consumes. */
export interface EventRecord {
  readonly key: string;
  readonly value: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
}

/** Header values as consumers receive them (kafkajs gives Buffers, possibly arrays). */
export type RawHeaders = Readonly<
  Record<string, string | Uint8Array | readonly (string | Uint8Array)[] | undefined>
>;

const decoder = new TextDecoder();

/** Builds the headers of an envelope's record (without capture-specific headers). */
export function envelopeHeaders(
  envelope: EventEnvelope,
  contentType = 'application/json',
): Record<string, string> {
  const headers: Record<string, string> = {
    [EventHeaders.eventId]: envelope.eventId,
    [EventHeaders.aggregateType]: envelope.aggregateType,
    [EventHeaders.aggregateId]: envelope.aggregateId,
    [EventHeaders.aggregateVersion]: String(envelope.aggregateVersion),
    [EventHeaders.eventType]: envelope.eventType,
    [EventHeaders.schemaVersion]: String(envelope.schemaVersion),
    [EventHeaders.occurredAt]: envelope.occurredAt,
    [EventHeaders.metadata]: JSON.stringify(envelope.metadata),
    [EventHeaders.contentType]: contentType,
  };
  const { correlationId, causationId, traceparent } = envelope.metadata;
  if (typeof correlationId === 'string') headers[EventHeaders.correlationId] = correlationId;
  if (typeof causationId === 'string') headers[EventHeaders.causationId] = causationId;
  if (typeof traceparent === 'string') headers[EventHeaders.traceparent] = traceparent;
  return headers;
}

/** Reads one header as a string (first value when repeated), or undefined. */
export function headerValue(headers: RawHeaders, name: string): string | undefined {
  const raw = headers[name];
  const first = Array.isArray(raw)
    ? (raw as readonly (string | Uint8Array)[])[0]
    : (raw as string | Uint8Array | undefined);
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : decoder.decode(first);
}

/** The envelope fields of a record's headers; the payload is decoded separately. */
export type EnvelopeWithoutPayload = Omit<EventEnvelope, 'payload'>;

/**
 * Reads the envelope from a record's headers, validating every field.
 *
 * @throws InvalidEventError naming the missing or malformed header; such a record is
 * poison for a consumer, never silently skipped.
 */
export function envelopeFromHeaders(headers: RawHeaders): EnvelopeWithoutPayload {
  const read = (name: string): string => {
    const value = headerValue(headers, name);
    if (value === undefined)
      throw new InvalidEventError(`Record has no "${name}" header`, { header: name });
    return value;
  };
  try {
    const eventId = read(EventHeaders.eventId);
    assertEventId(eventId);
    const aggregateType = read(EventHeaders.aggregateType);
    assertAggregateType(aggregateType);
    const aggregateId = read(EventHeaders.aggregateId);
    assertAggregateId(aggregateId);
    const aggregateVersion = Number(read(EventHeaders.aggregateVersion));
    assertVersion('aggregate version header', aggregateVersion, 1);
    const eventType = read(EventHeaders.eventType);
    assertEventType(eventType);
    const schemaVersion = Number(read(EventHeaders.schemaVersion));
    assertVersion('schema version header', schemaVersion, 1);
    const occurredAt = read(EventHeaders.occurredAt);
    const metadataText = headerValue(headers, EventHeaders.metadata);
    const metadata = metadataText === undefined ? {} : (JSON.parse(metadataText) as EventMetadata);
    return {
      eventId,
      aggregateType,
      aggregateId,
      aggregateVersion,
      eventType,
      schemaVersion,
      occurredAt,
      metadata,
    };
  } catch (error) {
    if (error instanceof InvalidEventError) throw error;
    throw new InvalidEventError(
      `Record headers do not hold a valid event envelope: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
