export {
  InMemorySchemaRegistry,
  compatibilityBreaks,
  type InMemorySchemaRegistryOptions,
} from './in-memory-schema-registry.js';
export {
  jsonSchemaDifferences,
  jsonSchemaBackwardBreaks,
  type SchemaDifference,
} from './json-schema-compatibility.js';
export { avroReadBreaks } from './avro-compatibility.js';
export { parseProtobuf, protobufReadBreaks } from './protobuf-compatibility.js';
