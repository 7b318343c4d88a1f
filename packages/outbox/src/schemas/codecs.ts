/**
 * Avro and Protobuf codecs (the JSON Schema codec is in @tributary/core). Both produce the
 * bytes Confluent's serializers put after the wire-format header, so records interoperate
 * with Java, librdkafka and kafkajs consumers.
 */
import {
  createJsonSchemaCodec,
  InvalidSchemaError,
  SchemaCodecs,
  SerializationError,
  type CompiledSchema,
  type PayloadIssue,
  type RegistrySchema,
  type SchemaCodec,
} from '@tributary/core';
import avro from 'avsc';
import protobuf from 'protobufjs';

const pointer = (path: readonly string[]): string =>
  path.map((part) => `/${part.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

/** The Avro codec: Avro binary encoding of a record, by avsc. */
export function createAvroCodec(): SchemaCodec {
  return {
    format: 'AVRO',
    compile(schema: RegistrySchema): CompiledSchema {
      let type: avro.Type;
      try {
        type = avro.Type.forSchema(JSON.parse(schema.schema) as avro.Schema);
      } catch (error) {
        throw new InvalidSchemaError(`Avro schema does not parse: ${String(error)}`, error);
      }
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

function readVarint(bytes: Uint8Array, start: number): [number, number] {
  let value = 0;
  let shift = 0;
  let offset = start;
  for (;;) {
    const byte = bytes[offset];
    if (byte === undefined) throw new SerializationError('Truncated Protobuf message index');
    offset += 1;
    value |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
  }
  // Confluent writes the message indexes zig-zag encoded.
  return [(value >>> 1) ^ -(value & 1), offset];
}

/**
 * The Protobuf codec. Confluent's format puts the message indexes before the message; the
 * event's message is the first one declared (index path `[0]`, written as one `0` byte).
 */
export function createProtobufCodec(): SchemaCodec {
  return {
    format: 'PROTOBUF',
    compile(schema: RegistrySchema): CompiledSchema {
      let type: protobuf.Type;
      try {
        const parsed = protobuf.parse(schema.schema, { keepCase: true });
        const first = parsed.root.nestedArray
          .flatMap((entry) =>
            entry instanceof protobuf.Namespace && !(entry instanceof protobuf.Type)
              ? entry.nestedArray
              : [entry],
          )
          .find((entry): entry is protobuf.Type => entry instanceof protobuf.Type);
        if (first === undefined) throw new Error('no message declared');
        type = first;
      } catch (error) {
        throw new InvalidSchemaError(
          `Protobuf schema does not parse: ${error instanceof Error ? error.message : String(error)}`,
          error,
        );
      }
      const validate = (payload: unknown): PayloadIssue[] => {
        const problem = type.verify(payload as Record<string, unknown>);
        return problem === null ? [] : [{ path: '', message: problem }];
      };
      return {
        format: 'PROTOBUF',
        validate,
        encode(payload: unknown): Uint8Array {
          const problem = type.verify(payload as Record<string, unknown>);
          if (problem !== null)
            throw new SerializationError(`Payload does not fit its Protobuf schema: ${problem}`);
          const body = type.encode(type.fromObject(payload as Record<string, unknown>)).finish();
          const out = new Uint8Array(body.byteLength + 1);
          out[0] = 0;
          out.set(body, 1);
          return out;
        },
        decode(bytes: Uint8Array): unknown {
          try {
            let [count, offset] = readVarint(bytes, 0);
            for (; count > 0; count -= 1) [, offset] = readVarint(bytes, offset);
            return type.toObject(type.decode(bytes.subarray(offset)), {
              longs: Number,
              enums: String,
              defaults: true,
            });
          } catch (error) {
            if (error instanceof SerializationError) throw error;
            throw new SerializationError(
              `Protobuf payload (${bytes.byteLength} bytes) does not decode`,
              error,
            );
          }
        },
      };
    },
  };
}

/** Codecs for every format Tributary supports: JSON Schema, Avro and Protobuf. */
export function createDefaultSchemaCodecs(): SchemaCodecs {
  return new SchemaCodecs([createJsonSchemaCodec(), createAvroCodec(), createProtobufCodec()]);
}
