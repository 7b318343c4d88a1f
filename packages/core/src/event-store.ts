import type { EventEnvelope, EventMetadata, NewEvent } from './envelope.js';
import type { StreamRef } from './errors.js';
import {
  CommandIdReusedError,
  ConcurrencyError,
  DuplicateEventError,
  InvalidIdentifierError,
  InvalidEventError,
  RecordTooLargeError,
} from './errors.js';
import type { Clock, IdGenerator } from './ids.js';
import {
  assertAggregateId,
  assertAggregateType,
  assertEventId,
  assertEventType,
  assertVersion,
} from './identifiers.js';
import { checkedJsonPayload, DEFAULT_MAX_PAYLOAD_BYTES } from './payload.js';
import { DEFAULT_MAX_RECORD_BYTES, unnumberedEventRecordSize } from './record-size.js';

/**
 * What the caller believes about the stream before appending:
 * - a number `n` ≥ 0: the stream is exactly at version `n` (0 = it does not exist yet);
 * - `'no-stream'`: the stream does not exist (same as 0);
 * - `'any'`: no check (appends after whatever is there).
 */
export type ExpectedVersion = number | 'no-stream' | 'any';

/** Options of {@link EventStore.appendToStream}. */
export interface AppendOptions {
  /** Default `'any'`. */
  readonly expectedVersion?: ExpectedVersion;
  /**
   * The idempotency key of the command that produced this append. The store records it in
   * the same atomic write as the events (durably, on PostgreSQL in the commands table); a
   * later append with the same key writes nothing and returns `status: 'duplicate'` with the
   * events of the first, whatever its events and expected version. With a command id the
   * append may have no events: that records a command that decided nothing.
   */
  readonly commandId?: string;
}

/** One stream's part of an atomic multi-stream append. */
export interface StreamAppend {
  readonly stream: StreamRef;
  readonly events: readonly NewEvent[];
  readonly expectedVersion?: ExpectedVersion;
  /** See {@link AppendOptions.commandId}. Each command id may appear once per append. */
  readonly commandId?: string;
}

/** Where a command recorded with {@link AppendOptions.commandId} appended its events. */
export interface ProcessedCommand {
  readonly commandId: string;
  readonly stream: StreamRef;
  /** Version of the command's first event (`toVersion + 1` when it appended none). */
  readonly fromVersion: number;
  /** The stream's version right after the command. */
  readonly toVersion: number;
}

/** The outcome of appending to one stream. */
export interface AppendResult {
  /**
   * `'appended'`: the events were written. `'duplicate'`: every event id was already in
   * this stream, nothing was written (an idempotent retry of an earlier append).
   */
  readonly status: 'appended' | 'duplicate';
  readonly stream: StreamRef;
  /** The stream's version after the append: pass it as the next `expectedVersion`. */
  readonly nextExpectedVersion: number;
  /** The stored envelopes (for a duplicate: the ones stored earlier). */
  readonly events: readonly EventEnvelope[];
}

/** Options of {@link EventStore.readStream}. */
export interface ReadStreamOptions {
  /** First version to return, 1-based. Default 1. */
  readonly fromVersion?: number;
  /** Most events to return. Default: all. */
  readonly maxCount?: number;
}

/** The result of reading a stream. */
export interface ReadStreamResult {
  readonly stream: StreamRef;
  /** The stream's latest version (0 = no stream), whatever range was read. */
  readonly currentVersion: number;
  /** The events in version order, as stored (not upcast). */
  readonly events: readonly EventEnvelope[];
}

/**
 * The event store port. Implementations: `InMemoryEventStore` (@tributary/testing) and
 * `PostgresEventStore` (@tributary/outbox); both pass the same contract suite.
 *
 * Every implementation must: reject bad identifiers, versions and payloads with typed
 * errors before writing anything; number events 1, 2, 3… per stream; enforce
 * `expectedVersion` atomically (a {@link ConcurrencyError} when it does not hold); treat a
 * repeated append of the same event ids as a no-op (`status: 'duplicate'`).
 */
export interface EventStore {
  readStream(stream: StreamRef, options?: ReadStreamOptions): Promise<ReadStreamResult>;
  appendToStream(
    stream: StreamRef,
    events: readonly NewEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult>;
  /** Appends to several streams atomically: all are written or none. */
  appendMany(appends: readonly StreamAppend[]): Promise<readonly AppendResult[]>;
  /** The command recorded under `commandId` by an earlier append, if any. */
  findCommand(commandId: string): Promise<ProcessedCommand | undefined>;
}

/** An event checked and completed by {@link prepareAppend}, ready to be numbered and stored. */
export interface PreparedEvent {
  readonly eventId: string;
  readonly eventType: string;
  readonly schemaVersion: number;
  readonly payload: unknown;
  readonly metadata: EventMetadata;
  readonly occurredAt: string;
  /** Size of the payload as UTF-8 JSON. */
  readonly payloadBytes: number;
  /** The payload as JSON text, made while validating it: what a store sends to its database. */
  readonly payloadJson: string;
  /** The metadata as JSON text, likewise. */
  readonly metadataJson: string;
}

/** Settings that every store applies the same way when preparing an append. */
export interface PrepareAppendOptions {
  readonly idGenerator: IdGenerator;
  readonly clock: Clock;
  /** Default 1 MiB. */
  readonly maxPayloadBytes?: number;
  /**
   * Largest Kafka record batch capture may publish for one event (see `eventRecordSize`).
   * Default {@link DEFAULT_MAX_RECORD_BYTES}, the broker's default `message.max.bytes`.
   */
  readonly maxRecordBytes?: number;
}

/**
 * Validates one stream append and fills in defaults (event id, schema version, metadata,
 * timestamp). Shared by every store so they reject exactly the same inputs, before any
 * write happens.
 *
 * @throws InvalidIdentifierError, InvalidVersionError, InvalidEventError, or
 * RecordTooLargeError when an event's Kafka record would exceed `maxRecordBytes`.
 */
export function prepareAppend(
  stream: StreamRef,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
  options: PrepareAppendOptions & { readonly commandId?: string | undefined },
): PreparedEvent[] {
  assertStreamRef(stream);
  assertExpectedVersion(expectedVersion);
  if (options.commandId !== undefined) assertCommandId(options.commandId);
  const list: unknown = events;
  if (!Array.isArray(list) || (list.length === 0 && options.commandId === undefined)) {
    throw new InvalidEventError(
      `Append to ${stream.aggregateType}/${stream.aggregateId} has no events`,
    );
  }
  const maxBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const seen = new Set<string>();
  const now = options.clock().toISOString();
  return events.map((event, index) => {
    const what = `Event #${index + 1} (${String(event.type)}) of ${stream.aggregateType}/${stream.aggregateId}`;
    assertEventType(event.type);
    const eventId = event.eventId ?? options.idGenerator();
    assertEventId(eventId);
    const normalizedId = eventId.toLowerCase();
    if (seen.has(normalizedId)) throw new InvalidEventError(`${what} repeats event id ${eventId}`);
    seen.add(normalizedId);
    const schemaVersion = event.schemaVersion ?? 1;
    assertVersion(`schema version of ${what}`, schemaVersion, 1);
    const { json: payloadJson, bytes: payloadBytes } = checkedJsonPayload(
      event.data,
      `payload of ${what}`,
      maxBytes,
    );
    const metadata = event.metadata ?? {};
    const { json: metadataJson, bytes: metadataBytes } = checkedJsonPayload(
      metadata,
      `metadata of ${what}`,
      maxBytes,
    );
    const occurredAt = event.occurredAt ?? now;
    const occurredTime = Date.parse(occurredAt);
    if (Number.isNaN(occurredTime)) {
      throw new InvalidEventError(
        `${what} has an invalid occurredAt ${JSON.stringify(occurredAt)}`,
      );
    }
    const year = new Date(occurredTime).getUTCFullYear();
    if (year < 1 || year > 9999) {
      // Capture reads the timestamp back as PostgreSQL prints it and expects a 4-digit year.
      throw new InvalidEventError(
        `${what} has occurredAt ${JSON.stringify(occurredAt)} outside the years 0001–9999`,
      );
    }
    const prepared = {
      eventId: normalizedId,
      eventType: event.type,
      schemaVersion,
      payload: event.data,
      metadata,
      occurredAt,
      payloadBytes,
      payloadJson,
      metadataJson,
    };
    // Refused here, because capture could neither publish nor skip it later.
    const envelope = {
      ...prepared,
      aggregateType: stream.aggregateType,
      aggregateId: stream.aggregateId,
    };
    const size = unnumberedEventRecordSize(envelope, {
      payloadJsonBytes: payloadBytes,
      metadataJsonBytes: metadataBytes,
    });
    if (size.totalBytes > maxRecordBytes) {
      throw new RecordTooLargeError(
        envelope,
        {
          recordBytes: size.totalBytes,
          valueBytes: size.valueBytes,
          headerBytes: size.headerBytes,
        },
        maxRecordBytes,
      );
    }
    return prepared;
  });
}

/** Longest accepted command id. */
export const MAX_COMMAND_ID_LENGTH = 200;

/**
 * @throws InvalidIdentifierError unless `value` is a non-empty string of at most
 * {@link MAX_COMMAND_ID_LENGTH} characters without control characters.
 */
export function assertCommandId(value: unknown): asserts value is string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_COMMAND_ID_LENGTH ||
    // eslint-disable-next-line no-control-regex -- control characters are what is refused
    /[\u0000-\u001f\u007f]/.test(value)
  ) {
    throw new InvalidIdentifierError(
      'command id',
      value,
      `must be a non-empty string of at most ${MAX_COMMAND_ID_LENGTH} characters without control characters`,
    );
  }
}

/**
 * The idempotency rule for command ids, in one place: `undefined` when `commandId` is new,
 * the recorded command when it was processed for `stream` (write nothing, report
 * `'duplicate'`).
 *
 * @throws CommandIdReusedError when it was recorded for another stream.
 */
export function processedCommandOf(
  stream: StreamRef,
  commandId: string,
  recorded: ProcessedCommand | undefined,
): ProcessedCommand | undefined {
  if (recorded === undefined) return undefined;
  if (
    recorded.stream.aggregateType !== stream.aggregateType ||
    recorded.stream.aggregateId !== stream.aggregateId
  ) {
    throw new CommandIdReusedError(commandId, recorded.stream, stream);
  }
  return recorded;
}

/** @throws InvalidEventError when one command id appears twice in a multi-stream append. */
export function assertDistinctCommandIds(appends: readonly StreamAppend[]): void {
  const ids = new Set<string>();
  for (const { commandId } of appends) {
    if (commandId === undefined) continue;
    if (ids.has(commandId)) {
      throw new InvalidEventError(
        `Command id ${JSON.stringify(commandId)} appears twice in one appendMany; a command appends to one stream`,
      );
    }
    ids.add(commandId);
  }
}

/** @throws InvalidIdentifierError unless the stream's type and id are valid. */
export function assertStreamRef(stream: StreamRef): void {
  assertAggregateType(stream.aggregateType);
  assertAggregateId(stream.aggregateId);
}

/** @throws InvalidVersionError unless `expected` is `'any'`, `'no-stream'` or an integer ≥ 0. */
export function assertExpectedVersion(expected: ExpectedVersion): void {
  if (expected === 'any' || expected === 'no-stream') return;
  assertVersion('expected version', expected, 0);
}

/**
 * Checks `expected` against the stream's actual version (0 = no stream).
 *
 * @throws ConcurrencyError when they disagree.
 */
export function checkExpectedVersion(
  stream: StreamRef,
  expected: ExpectedVersion,
  actualVersion: number,
): void {
  if (expected === 'any') return;
  const expectedNumber = expected === 'no-stream' ? 0 : expected;
  if (expectedNumber !== actualVersion) throw new ConcurrencyError(stream, expected, actualVersion);
}

/** Numbers prepared events after `currentVersion` and builds their envelopes. */
export function toEnvelopes(
  stream: StreamRef,
  currentVersion: number,
  events: readonly PreparedEvent[],
): EventEnvelope[] {
  return events.map((event, index) => ({
    eventId: event.eventId,
    aggregateType: stream.aggregateType,
    aggregateId: stream.aggregateId,
    aggregateVersion: currentVersion + index + 1,
    eventType: event.eventType,
    schemaVersion: event.schemaVersion,
    payload: event.payload,
    metadata: event.metadata,
    occurredAt: event.occurredAt,
  }));
}

/** @throws InvalidVersionError unless the read options are valid. */
export function assertReadOptions(options: ReadStreamOptions): void {
  if (options.fromVersion !== undefined) assertVersion('fromVersion', options.fromVersion, 1);
  if (options.maxCount !== undefined) assertVersion('maxCount', options.maxCount, 1);
}

/** @throws InvalidEventError when one stream appears twice in a multi-stream append. */
export function assertDistinctStreams(appends: readonly StreamAppend[]): void {
  const keys = new Set<string>();
  for (const { stream } of appends) {
    const key = `${stream.aggregateType}\u0000${stream.aggregateId}`;
    if (keys.has(key)) {
      throw new InvalidEventError(
        `Stream ${stream.aggregateType}/${stream.aggregateId} appears twice in one appendMany; merge its events`,
      );
    }
    keys.add(key);
  }
}

/** Where an already-stored event id lives. */
export interface StoredEventLocation {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly aggregateVersion: number;
}

/**
 * The idempotency rule of every store, in one place: given where each of an append's event
 * ids is already stored (if anywhere), returns `undefined` when none is stored (a new
 * append), or the stored versions in append order when all are stored in `stream` (an
 * idempotent retry: write nothing, report `'duplicate'`).
 *
 * @throws DuplicateEventError when only some ids are stored, or one is stored in another
 * stream: that is a bug in the caller, not a retry.
 */
export function storedVersionsOfRetry(
  stream: StreamRef,
  events: readonly PreparedEvent[],
  locate: (eventId: string) => StoredEventLocation | undefined,
): number[] | undefined {
  const found = events.map((event) => locate(event.eventId));
  const stored = found.filter((location) => location !== undefined);
  if (stored.length === 0) return undefined;
  const ids = events.filter((_, index) => found[index] !== undefined).map((event) => event.eventId);
  if (
    stored.some(
      (location) =>
        location.aggregateType !== stream.aggregateType ||
        location.aggregateId !== stream.aggregateId,
    )
  ) {
    throw new DuplicateEventError(ids, 'stored in another stream');
  }
  if (stored.length !== events.length) {
    throw new DuplicateEventError(ids, 'part of this append was stored before; resend all or none');
  }
  return stored.map((location) => location.aggregateVersion);
}
