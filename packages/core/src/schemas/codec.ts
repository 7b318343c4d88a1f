/**
 * The codec port: how a payload becomes bytes under a schema and back. The JSON Schema
 * codec lives here (pure JavaScript); Avro and Protobuf codecs are in @tributary/outbox.
 */
import type { PayloadIssue } from './errors.js';
import { InvalidSchemaError } from './errors.js';
import type { ResolvedSchemaReference } from './references.js';
import type { RegistrySchema, SchemaFormat } from './registry.js';

/** A schema prepared for encoding, decoding and validating payloads. */
export interface CompiledSchema {
  readonly format: SchemaFormat;
  /**
   * Encodes a payload (without the wire-format header).
   *
   * @throws PayloadSchemaMismatchError (via the caller's context) when the payload does not
   * fit; codecs throw `SerializationError` for bytes they cannot produce.
   */
  encode(payload: unknown): Uint8Array;
  /** Decodes payload bytes (without the wire-format header) into a plain JSON-like value. */
  decode(bytes: Uint8Array): unknown;
  /** Every way `payload` fails the schema; empty when it fits. */
  validate(payload: unknown): readonly PayloadIssue[];
}

/** What else than the schema text decides how payloads are encoded. */
export interface CompileOptions {
  /**
   * The declaration's record name. Protobuf: the message of the event (a file may declare
   * several); other formats ignore it (the schema itself is the record).
   */
  readonly recordName?: string;
  /**
   * The schemas this one references (Avro named types, imported `.proto` files), every one
   * reachable, dependencies first. A name the schema uses but that is missing here fails
   * with `SchemaReferenceMissingError`.
   */
  readonly references?: readonly ResolvedSchemaReference[];
}

/** Compiles schemas of one format. */
export interface SchemaCodec {
  readonly format: SchemaFormat;
  /** @throws InvalidSchemaError when the text does not parse. */
  compile(schema: RegistrySchema, options?: CompileOptions): CompiledSchema;
}

/**
 * The codecs of an application, one per format, with compiled schemas cached by schema
 * text (compiling is far slower than encoding; the cache is what makes per-record use
 * cheap).
 */
export class SchemaCodecs {
  readonly #codecs = new Map<SchemaFormat, SchemaCodec>();
  readonly #compiled = new Map<string, CompiledSchema>();
  readonly #maxCached: number;

  /** @param maxCached compiled schemas kept; the oldest is evicted beyond it. Default 10,000. */
  constructor(codecs: readonly SchemaCodec[], maxCached = 10_000) {
    for (const codec of codecs) this.#codecs.set(codec.format, codec);
    this.#maxCached = maxCached;
  }

  /** The formats these codecs handle. */
  get formats(): readonly SchemaFormat[] {
    return [...this.#codecs.keys()];
  }

  /** A copy with `codecs` added (replacing codecs of the same format). */
  with(...codecs: readonly SchemaCodec[]): SchemaCodecs {
    return new SchemaCodecs([...this.#codecs.values(), ...codecs], this.#maxCached);
  }

  /**
   * The compiled form of `schema`, from the cache when possible.
   *
   * @throws InvalidSchemaError when no codec handles the format or the text does not parse.
   */
  compile(schema: RegistrySchema, options: CompileOptions = {}): CompiledSchema {
    const references = (options.references ?? [])
      .map((reference) => `${reference.name}\u0001${reference.schema}`)
      .join('\u0002');
    const cacheKey = `${schema.format}\u0000${options.recordName ?? ''}\u0000${schema.schema}\u0000${references}`;
    const cached = this.#compiled.get(cacheKey);
    if (cached !== undefined) return cached;
    const codec = this.#codecs.get(schema.format);
    if (codec === undefined) {
      throw new InvalidSchemaError(
        `No codec for ${schema.format} schemas; add one (Avro and Protobuf codecs come from @tributary/outbox)`,
        undefined,
        { format: schema.format },
      );
    }
    const compiled = codec.compile(schema, options);
    if (this.#compiled.size >= this.#maxCached) {
      const oldest = this.#compiled.keys().next().value;
      if (oldest !== undefined) this.#compiled.delete(oldest);
    }
    this.#compiled.set(cacheKey, compiled);
    return compiled;
  }
}
