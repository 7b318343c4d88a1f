/**
 * Avro and Protobuf codecs (the JSON Schema codec is in @tributary/core). Both produce the
 * bytes Confluent's serializers put after the wire-format header, so records interoperate
 * with Java, librdkafka and kafkajs consumers.
 */
import {
  createJsonSchemaCodec,
  InvalidSchemaError,
  SchemaCodecs,
  SchemaReferenceMissingError,
  SerializationError,
  type CompiledSchema,
  type CompileOptions,
  type PayloadIssue,
  type RegistrySchema,
  type SchemaCodec,
} from '@tributary/core';
import avro from 'avsc';
import { createProtobufCodec } from './protobuf-codec.js';

const pointer = (path: readonly string[]): string =>
  path.map((part) => `/${part.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const longOf = (value: unknown): bigint | undefined => {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : undefined;
  if (typeof value === 'bigint') return value;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) return undefined;
  const big = BigInt(value);
  return big < INT64_MIN || big > INT64_MAX ? undefined : big;
};

/**
 * Avro `long` without loss: a number when it is a safe integer, else a decimal string (a
 * JSON payload cannot carry integers beyond 2^53 as numbers). Both are accepted when
 * encoding. avsc's default long throws beyond 2^53.
 */
const exactLong = avro.types.LongType.__with({
  fromBuffer: (buffer: Buffer): number | string => {
    const big = buffer.readBigInt64LE();
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(big)
      : big.toString();
  },
  toBuffer: (value: number | string): Buffer => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(longOf(value) ?? 0n);
    return buffer;
  },
  fromJSON: (value: unknown): number | string =>
    typeof value === 'number' ? value : String(longOf(value) ?? value),
  toJSON: (value: number | string): number | string => value,
  isValid: (value: unknown): boolean => longOf(value) !== undefined,
  compare: (left: number | string, right: number | string): number => {
    const [a, b] = [longOf(left) ?? 0n, longOf(right) ?? 0n];
    return a < b ? -1 : a > b ? 1 : 0;
  },
});

/**
 * Parses Avro schema text after its referenced named types (dependencies first), all in one
 * avsc registry, so `"type": "bank.Money"` resolves to the referenced record.
 *
 * @throws SchemaReferenceMissingError when the schema names a type nobody declared.
 */
export function parseAvroWithReferences(
  text: string,
  references: CompileOptions['references'] = [],
  long: avro.Type | undefined = exactLong,
): avro.Type {
  const registry: Record<string, avro.Type> = long === undefined ? {} : { long };
  const parse = (schemaText: string, what: string): avro.Type => {
    try {
      return avro.Type.forSchema(JSON.parse(schemaText) as avro.Schema, { registry });
    } catch (error) {
      const missing = /undefined type name: ([\w.]+)/.exec(String(error))?.[1];
      if (missing !== undefined) {
        throw new SchemaReferenceMissingError(
          missing,
          `${what} uses the named type "${missing}", which is neither defined in it nor among its references; declare it with avroReference() and list it in \`references\``,
        );
      }
      throw new InvalidSchemaError(`${what} does not parse: ${String(error)}`, error);
    }
  };
  for (const reference of references) parse(reference.schema, `Avro reference ${reference.name}`);
  return parse(text, 'Avro schema');
}

/** The Avro codec: Avro binary encoding of a record, by avsc. */
export function createAvroCodec(): SchemaCodec {
  return {
    format: 'AVRO',
    compile(schema: RegistrySchema, options: CompileOptions = {}): CompiledSchema {
      const type = parseAvroWithReferences(schema.schema, options.references);
      const validate = (payload: unknown): PayloadIssue[] => {
        const issues: PayloadIssue[] = [];
        type.isValid(payload, {
          errorHook: (path: string[], value: unknown, expected: avro.Type) => {
            issues.push({
              path: pointer(path),
              message: `${JSON.stringify(value) ?? 'undefined'} is not a valid ${String(expected.typeName)}`,
            });
          },
        });
        return issues;
      };
      return {
        format: 'AVRO',
        validate,
        encode(payload: unknown): Uint8Array {
          try {
            return type.toBuffer(payload);
          } catch (error) {
            const issues = validate(payload);
            throw new SerializationError(
              `Payload does not fit its Avro schema: ${issues.map((issue) => `${issue.path || '/'} ${issue.message}`).join('; ') || String(error)}`,
              error,
            );
          }
        },
        decode(bytes: Uint8Array): unknown {
          try {
            // Plain objects, not avsc record instances: handlers see what JSON decoding gives.
            return {
              ...(type.fromBuffer(
                Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
              ) as object),
            };
          } catch (error) {
            throw new SerializationError(
              `Avro payload (${bytes.byteLength} bytes) does not decode`,
              error,
            );
          }
        },
      };
    },
  };
}

export { createProtobufCodec };

/** Codecs for every format Tributary supports: JSON Schema, Avro and Protobuf. */
export function createDefaultSchemaCodecs(): SchemaCodecs {
  return new SchemaCodecs([createJsonSchemaCodec(), createAvroCodec(), createProtobufCodec()]);
}
