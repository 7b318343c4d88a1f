/**
 * The Confluent wire format, as pure functions: magic byte `0`, the schema id as a 4-byte
 * big-endian signed integer, then the encoded payload. Every Confluent-compatible
 * serializer and deserializer (Java, librdkafka, kafkajs clients) reads and writes it.
 */
import { SerializationError } from '../errors.js';

/** The first byte of a registry-encoded value. JSON text never starts with it. */
export const WIRE_FORMAT_MAGIC_BYTE = 0;

/** Bytes before the payload: magic byte + schema id. */
export const WIRE_FORMAT_HEADER_BYTES = 5;

/** `content-type` header value of records in the registry wire format. */
export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry';

/** `content-type` header value of plain JSON records. */
export const JSON_CONTENT_TYPE = 'application/json';

/** A value split into its schema id and payload bytes. */
export interface WireFormatValue {
  readonly schemaId: number;
  /** The payload bytes, a view into the original buffer (not a copy). */
  readonly payload: Uint8Array;
}

/** True when `value` starts like a registry-encoded value (magic byte and a full header). */
export function isWireFormat(value: Uint8Array): boolean {
  return value.byteLength >= WIRE_FORMAT_HEADER_BYTES && value[0] === WIRE_FORMAT_MAGIC_BYTE;
}

/**
 * Prefixes `payload` with the magic byte and `schemaId`.
 *
 * @throws SerializationError when `schemaId` is not a 32-bit non-negative integer.
 */
export function encodeWireFormat(schemaId: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) {
    throw new SerializationError(`Schema id ${schemaId} does not fit the wire format`);
  }
  const out = new Uint8Array(WIRE_FORMAT_HEADER_BYTES + payload.byteLength);
  out[0] = WIRE_FORMAT_MAGIC_BYTE;
  new DataView(out.buffer, out.byteOffset, out.byteLength).setInt32(1, schemaId, false);
  out.set(payload, WIRE_FORMAT_HEADER_BYTES);
  return out;
}

/**
 * Splits a registry-encoded value.
 *
 * @throws SerializationError when the value is too short or has another magic byte.
 */
export function decodeWireFormat(value: Uint8Array): WireFormatValue {
  if (value.byteLength < WIRE_FORMAT_HEADER_BYTES) {
    throw new SerializationError(
      `Value of ${value.byteLength} bytes is too short for the registry wire format`,
    );
  }
  if (value[0] !== WIRE_FORMAT_MAGIC_BYTE) {
    throw new SerializationError(
      `Value starts with byte ${String(value[0])}, not the registry magic byte 0`,
    );
  }
  const schemaId = new DataView(value.buffer, value.byteOffset, value.byteLength).getInt32(
    1,
    false,
  );
  return { schemaId, payload: value.subarray(WIRE_FORMAT_HEADER_BYTES) };
}
