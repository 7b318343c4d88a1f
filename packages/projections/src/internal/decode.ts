import {
  EventHeaders,
  envelopeFromHeaders,
  headerValue,
  InvalidEventError,
  JSON_CONTENT_TYPE,
  REGISTRY_CONTENT_TYPE,
  type EnvelopeWithoutPayload,
  type RecordValueDecoder,
  type UpcasterChain,
} from '@tributary/core';
import type { ProjectedEvent } from '../projection.js';
import { valueBytes, type SourceRecord } from '../source-record.js';

const decoder = new TextDecoder();

/** The envelope from the headers, without touching the value. @throws InvalidEventError */
export function readEnvelope(record: SourceRecord): EnvelopeWithoutPayload {
  return envelopeFromHeaders(record.headers);
}

/**
 * Decodes the JSON payload and upcasts it to the current schema version, giving what a
 * handler receives.
 *
 * @throws InvalidEventError for a tombstone, non-JSON content or a payload that is not JSON;
 * UpcastError when an upcaster fails. Both are deterministic: retrying cannot help.
 */
export function decodeEvent(
  record: SourceRecord,
  envelope: EnvelopeWithoutPayload,
  upcasters: UpcasterChain,
): ProjectedEvent {
  const contentType = headerValue(record.headers, EventHeaders.contentType);
  if (contentType !== undefined && contentType !== 'application/json') {
    throw new InvalidEventError(
      `Record content type "${contentType}" is not supported by the projection runtime (JSON only)`,
      { contentType },
    );
  }
  if (record.value === null) {
    throw new InvalidEventError(
      'Record has no value (tombstone) where an event payload was expected',
    );
  }
  let payload: unknown;
  try {
    payload = JSON.parse(
      typeof record.value === 'string' ? record.value : decoder.decode(record.value),
    );
  } catch (error) {
    throw new InvalidEventError(
      `Record value is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const upcast = upcasters.upcast({ ...envelope, payload });
  return {
    ...upcast,
    position: { topic: record.topic, partition: record.partition, offset: record.offset },
    commitLsn: headerValue(record.headers, EventHeaders.commitLsn),
  };
}

/**
 * Like {@link decodeEvent}, but the value is decoded by `valueDecoder` (see
 * `createRecordValueDecoder` of `@tributary/core`): by its first byte, registry wire format
 * (magic byte 0, schema id, bytes) through the registry, anything else as JSON — so JSON and
 * registry-encoded records can share a topic. The upcasters then run exactly as for JSON,
 * which is what lets a v1 event already in Kafka reach a v2 handler.
 *
 * @throws InvalidEventError for a tombstone or an unsupported content type;
 * SerializationError / SchemaNotFoundError when the value does not decode (deterministic);
 * RegistryUnavailableError (retriable) when the registry cannot be reached; UpcastError.
 */
export async function decodeEventWith(
  record: SourceRecord,
  envelope: EnvelopeWithoutPayload,
  upcasters: UpcasterChain,
  valueDecoder: RecordValueDecoder,
): Promise<ProjectedEvent> {
  const contentType = headerValue(record.headers, EventHeaders.contentType);
  if (
    contentType !== undefined &&
    contentType !== JSON_CONTENT_TYPE &&
    contentType !== REGISTRY_CONTENT_TYPE
  ) {
    throw new InvalidEventError(
      `Record content type "${contentType}" is not supported by the projection runtime (JSON or schema registry wire format)`,
      { contentType },
    );
  }
  const bytes = valueBytes(record.value);
  if (bytes === null) {
    throw new InvalidEventError(
      'Record has no value (tombstone) where an event payload was expected',
    );
  }
  // The synchronous path covers JSON and every schema id seen before (ids are immutable).
  const { payload } = valueDecoder.decodeCached(bytes) ?? (await valueDecoder.decode(bytes));
  const upcast = upcasters.upcast({ ...envelope, payload });
  return {
    ...upcast,
    position: { topic: record.topic, partition: record.partition, offset: record.offset },
    commitLsn: headerValue(record.headers, EventHeaders.commitLsn),
  };
}
