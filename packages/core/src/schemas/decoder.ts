/**
 * Decoding record values on the read side. The first byte tells the encodings apart: the
 * registry wire format starts with the magic byte 0, which JSON text never does, so JSON
 * records and registry-encoded records can share a topic while producers migrate.
 */
import { SerializationError } from '../errors.js';
import type { CompiledSchema, CompileOptions, SchemaCodecs } from './codec.js';
import { SchemaReferenceMissingError } from './errors.js';
import { fetchReferences } from './references.js';
import type { SchemaRegistry, SchemaFormat, RegistrySchema } from './registry.js';
import { decodeWireFormat, WIRE_FORMAT_MAGIC_BYTE } from './wire-format.js';

/** A decoded record value. */
export type DecodedValue =
  | { readonly encoding: 'json'; readonly payload: unknown }
  | {
      readonly encoding: 'registry';
      readonly payload: unknown;
      readonly schemaId: number;
      readonly format: SchemaFormat;
    };

/** Collaborators of {@link decodeRecordValue}. */
export interface RecordValueDecoderOptions {
  /**
   * `getById`, and `getVersion` for schemas with references; ids are immutable, so
   * decoders cache what they return.
   */
  readonly registry: Pick<SchemaRegistry, 'getById'> & Partial<Pick<SchemaRegistry, 'getVersion'>>;
  readonly codecs: SchemaCodecs;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJson(value: Uint8Array): DecodedValue {
  try {
    return { encoding: 'json', payload: JSON.parse(utf8.decode(value)) as unknown };
  } catch (error) {
    throw new SerializationError(
      `Record value (${value.byteLength} bytes) is neither registry wire format nor JSON`,
      error,
    );
  }
}

/**
 * Decodes one record value: registry wire format (magic byte 0) through the registry and
 * codecs, anything else as JSON.
 *
 * @throws SchemaNotFoundError for an unknown schema id (poison: retrying will not help).
 * @throws RegistryUnavailableError (retriable) when the registry cannot be reached.
 * @throws SerializationError when the bytes do not decode.
 */
export async function decodeRecordValue(
  value: Uint8Array,
  options: RecordValueDecoderOptions,
): Promise<DecodedValue> {
  if (value[0] !== WIRE_FORMAT_MAGIC_BYTE) return decodeJson(value);
  const { schemaId, payload } = decodeWireFormat(value);
  const schema = await options.registry.getById(schemaId);
  const compiled = options.codecs.compile(schema, await referencesOf(schema, options));
  return decodeWith(schema, schemaId, payload, compiled);
}

/** The compile options of a fetched schema: the schemas it references, fetched too. */
async function referencesOf(
  schema: RegistrySchema,
  options: RecordValueDecoderOptions,
): Promise<CompileOptions> {
  const references = schema.references ?? [];
  if (references.length === 0) return {};
  const { registry } = options;
  if (registry.getVersion === undefined) {
    const [first] = references;
    throw new SchemaReferenceMissingError(
      first?.name ?? '',
      `Schema references "${first?.name ?? ''}", and the decoder's registry has no getVersion to fetch it`,
    );
  }
  return {
    references: await fetchReferences(
      { getVersion: registry.getVersion.bind(registry) },
      references,
    ),
  };
}

function decodeWith(
  schema: RegistrySchema,
  schemaId: number,
  payload: Uint8Array,
  compiled: CompiledSchema,
): DecodedValue {
  return {
    encoding: 'registry',
    payload: compiled.decode(payload),
    schemaId,
    format: schema.format,
  };
}

/** A decoder that keeps schemas by id, for consumers that decode many records. */
export interface RecordValueDecoder {
  decode(value: Uint8Array): Promise<DecodedValue>;
  /**
   * Decodes without awaiting when the value is JSON or its schema id is cached; returns
   * `undefined` when the registry must be asked (then call {@link decode}).
   */
  decodeCached(value: Uint8Array): DecodedValue | undefined;
}

/**
 * Creates a {@link RecordValueDecoder}. Schemas are cached by id forever: a registry never
 * changes the schema behind an id. Concurrent misses for one id share one request.
 */
export function createRecordValueDecoder(options: RecordValueDecoderOptions): RecordValueDecoder {
  // Compiled per id: the hot path then hashes a number, not the schema text.
  const schemas = new Map<
    number,
    { readonly format: SchemaFormat; readonly compiled: CompiledSchema }
  >();
  const inFlight = new Map<number, Promise<RegistrySchema>>();
  const fetchSchema = (id: number): Promise<RegistrySchema> => {
    let pending = inFlight.get(id);
    if (pending === undefined) {
      pending = (async () => {
        const schema = await options.registry.getById(id);
        return { schema, compileOptions: await referencesOf(schema, options) };
      })().then(
        ({ schema, compileOptions }) => {
          schemas.set(id, {
            format: schema.format,
            compiled: options.codecs.compile(schema, compileOptions),
          });
          inFlight.delete(id);
          return schema;
        },
        (error: unknown) => {
          inFlight.delete(id);
          throw error;
        },
      );
      inFlight.set(id, pending);
    }
    return pending;
  };
  const decodeCached = (value: Uint8Array): DecodedValue | undefined => {
    if (value[0] !== WIRE_FORMAT_MAGIC_BYTE) return decodeJson(value);
    const { schemaId, payload } = decodeWireFormat(value);
    const known = schemas.get(schemaId);
    if (known === undefined) return undefined;
    return {
      encoding: 'registry',
      payload: known.compiled.decode(payload),
      schemaId,
      format: known.format,
    };
  };
  return {
    decodeCached,
    async decode(value: Uint8Array): Promise<DecodedValue> {
      const cached = decodeCached(value);
      if (cached !== undefined) return cached;
      const { schemaId, payload } = decodeWireFormat(value);
      const schema = await fetchSchema(schemaId);
      const known = schemas.get(schemaId) as { readonly compiled: CompiledSchema };
      return decodeWith(schema, schemaId, payload, known.compiled);
    },
  };
}
