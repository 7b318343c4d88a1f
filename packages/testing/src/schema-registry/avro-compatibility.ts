/**
 * Avro compatibility by Avro's own schema-resolution rules (what Confluent and Apicurio
 * apply): a reader schema can read a writer's data when avsc can build a resolver from the
 * writer's type to the reader's.
 */
import { InvalidSchemaError } from '@tributary/core';
import avro from 'avsc';

/** Parses Avro schema text. @throws InvalidSchemaError when it is not a valid Avro schema. */
export function parseAvro(text: string): avro.Type {
  try {
    return avro.Type.forSchema(JSON.parse(text) as avro.Schema);
  } catch (error) {
    throw new InvalidSchemaError(
      `Avro schema does not parse: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
}

/**
 * Why a reader with `reader` cannot read data written with `writer` (empty = it can).
 */
export function avroReadBreaks(writer: string, reader: string): string[] {
  const writerType = parseAvro(writer);
  const readerType = parseAvro(reader);
  try {
    readerType.createResolver(writerType);
    return [];
  } catch (error) {
    return [`READER_CANNOT_READ_WRITER: ${error instanceof Error ? error.message : String(error)}`];
  }
}
