import { SerializationError } from './errors.js';
import { assertJsonPayload } from './payload.js';

/**
 * Turns payloads into bytes and back. JSON is the default; registry-backed serializers
 * (Avro, Protobuf, JSON Schema) implement the same port in adapter packages.
 */
export interface Serializer {
  /** MIME type written next to the bytes, e.g. `application/json`. */
  readonly contentType: string;
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

/** Options of {@link JsonSerializer}. */
export interface JsonSerializerOptions {
  /** Largest payload accepted, in bytes. Default 1 MiB. */
  readonly maxBytes?: number;
}

/**
 * The default {@link Serializer}: UTF-8 JSON. Serializing refuses values that would not
 * come back unchanged (see {@link assertJsonPayload}).
 */
export class JsonSerializer implements Serializer {
  readonly contentType = 'application/json';
  readonly #maxBytes: number | undefined;
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(options: JsonSerializerOptions = {}) {
    this.#maxBytes = options.maxBytes;
  }

  serialize(value: unknown): Uint8Array {
    try {
      assertJsonPayload(value, 'value', this.#maxBytes);
    } catch (error) {
      throw new SerializationError(error instanceof Error ? error.message : String(error), error);
    }
    return this.#encoder.encode(JSON.stringify(value));
  }

  deserialize(bytes: Uint8Array): unknown {
    try {
      return JSON.parse(this.#decoder.decode(bytes)) as unknown;
    } catch (error) {
      throw new SerializationError(`Malformed JSON payload (${bytes.byteLength} bytes)`, error);
    }
  }
}
