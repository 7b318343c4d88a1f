/**
 * JSON Schema payloads: validated with Ajv (pure JavaScript, no I/O) and carried as UTF-8
 * JSON text, which is what Confluent's JSON Schema serializers put after the wire-format
 * header.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { SerializationError } from '../errors.js';
import type { CompiledSchema, SchemaCodec } from './codec.js';
import { InvalidSchemaError, type PayloadIssue } from './errors.js';
import type { RegistrySchema } from './registry.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function toIssue(error: ErrorObject): PayloadIssue {
  let path = error.instancePath;
  // Ajv reports a missing property at its parent; the pointer of the property itself is
  // what a reader wants to see.
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty?: unknown }).missingProperty;
    if (typeof missing === 'string')
      path = `${path}/${missing.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  }
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty?: unknown }).additionalProperty;
    if (typeof extra === 'string')
      path = `${path}/${extra.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  }
  return { path, message: error.message ?? error.keyword, keyword: error.keyword };
}

// The registries read schemas without `$schema` as draft-04..07; Ajv's default dialect is
// draft-07 and it refuses meta-schema URIs it does not bundle, so the dialect marker is
// dropped before compiling (the keywords Tributary users write mean the same in all three).
function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  if (!('$schema' in schema)) return schema;
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/** Compiles one JSON Schema into a validator. Exported for the payload validator. */
export function compileJsonSchemaValidator(
  ajv: Ajv,
  schema: RegistrySchema,
): (payload: unknown) => readonly PayloadIssue[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(schema.schema) as unknown;
  } catch (error) {
    throw new InvalidSchemaError('JSON Schema text is not valid JSON', error);
  }
  if (typeof parsed === 'boolean')
    return parsed ? () => [] : () => [{ path: '', message: 'schema is false' }];
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidSchemaError('JSON Schema must be an object or a boolean');
  }
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(withoutDialect(parsed as Record<string, unknown>));
  } catch (error) {
    throw new InvalidSchemaError(
      `JSON Schema does not compile: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
  return (payload) => (validate(payload) ? [] : (validate.errors ?? []).map(toIssue));
}

/** A fresh Ajv instance with the settings Tributary uses for event payloads. */
export function createPayloadAjv(): Ajv {
  return new Ajv({
    allErrors: true,
    // Unknown keywords and formats are annotations, as the registries treat them.
    strict: false,
    validateFormats: false,
    validateSchema: false,
    logger: false,
    // Compiled validators are cached by SchemaCodecs; Ajv's own cache would keep every
    // schema object alive a second time.
    addUsedSchema: false,
  });
}

/**
 * The JSON Schema codec (format `JSON`). Encoding does not validate: callers that want it
 * (the capture encoder, the append validator) call `validate` and raise a typed error
 * naming the event; decoding is tolerant, like any JSON reader.
 */
export function createJsonSchemaCodec(): SchemaCodec {
  const ajv = createPayloadAjv();
  return {
    format: 'JSON',
    compile(schema: RegistrySchema): CompiledSchema {
      const validate = compileJsonSchemaValidator(ajv, schema);
      return {
        format: 'JSON',
        validate,
        encode: (payload: unknown): Uint8Array => encoder.encode(JSON.stringify(payload)),
        decode(bytes: Uint8Array): unknown {
          try {
            return JSON.parse(decoder.decode(bytes)) as unknown;
          } catch (error) {
            throw new SerializationError(
              `Malformed JSON payload (${bytes.byteLength} bytes)`,
              error,
            );
          }
        },
      };
    },
  };
}
