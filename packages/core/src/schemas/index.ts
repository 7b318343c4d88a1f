/**
 * Event schemas: declarations, the registry port, subject naming, the Confluent wire
 * format, codecs, validation at append and decoding on the read side. Pure: the registry
 * client and the Avro/Protobuf codecs live in @tributary/outbox.
 */
export * from './errors.js';
export * from './registry.js';
export * from './wire-format.js';
export * from './declarations.js';
export * from './references.js';
export * from './subject-naming.js';
export * from './codec.js';
export * from './json-schema-codec.js';
export * from './validator.js';
export * from './decoder.js';
