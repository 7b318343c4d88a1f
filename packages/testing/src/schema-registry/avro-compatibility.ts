/**
 * Avro compatibility by Avro's own schema-resolution rules (what Confluent and Apicurio
 * apply): a reader schema can read a writer's data when avsc can build a resolver from the
 * writer's type to the reader's.
 */
import {
  InvalidSchemaError,
  SchemaReferenceMissingError,
  type ResolvedSchemaReference,
} from '@tributary/core';
import avro from 'avsc';

/**
 * Parses Avro schema text after the named types it references (dependencies first).
 *
 * @throws InvalidSchemaError when it is not a valid Avro schema.
 * @throws SchemaReferenceMissingError when it names a type neither defined nor referenced.
 */
export function parseAvro(
  text: string,
  references: readonly ResolvedSchemaReference[] = [],
): avro.Type {
  const registry: Record<string, avro.Type> = {};
  const parse = (schemaText: string): avro.Type => {
    try {
      return avro.Type.forSchema(JSON.parse(schemaText) as avro.Schema, { registry });
    } catch (error) {
      const missing = /undefined type name: ([\w.]+)/.exec(String(error))?.[1];
      if (missing !== undefined) {
        throw new SchemaReferenceMissingError(
          missing,
          `Avro schema uses the named type "${missing}", which is neither defined in it nor among its references`,
        );
      }
      throw new InvalidSchemaError(
        `Avro schema does not parse: ${error instanceof Error ? error.message : String(error)}`,
        error,
      );
    }
  };
  for (const reference of references) parse(reference.schema);
  return parse(text);
}

/**
 * Why a reader with `reader` cannot read data written with `writer` (empty = it can). Each
 * side comes with the named types it references.
 */
export function avroReadBreaks(
  writer: string,
  reader: string,
  writerReferences: readonly ResolvedSchemaReference[] = [],
  readerReferences: readonly ResolvedSchemaReference[] = [],
): string[] {
  const writerType = parseAvro(writer, writerReferences);
  const readerType = parseAvro(reader, readerReferences);
  try {
    readerType.createResolver(writerType);
    return [];
  } catch (error) {
    return [`READER_CANNOT_READ_WRITER: ${error instanceof Error ? error.message : String(error)}`];
  }
}
