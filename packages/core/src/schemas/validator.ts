/**
 * Validation at append: event stores call a {@link PayloadValidator} for every event after
 * their own checks and before writing, so a payload that does not match its declared
 * schema is refused with a typed error and nothing is written.
 */
import type { StreamRef } from '../errors.js';
import { SchemaCodecs } from './codec.js';
import type { EventSchemaCatalog } from './declarations.js';
import { compileOptionsOf, toRegistrySchema } from './declarations.js';
import {
  InvalidSchemaError,
  PayloadSchemaMismatchError,
  SchemaNotFoundError,
  SchemaReferenceMissingError,
} from './errors.js';
import { createJsonSchemaCodec } from './json-schema-codec.js';

/** The part of an event a validator looks at. */
export interface ValidatedEvent {
  readonly aggregateType: string;
  readonly eventType: string;
  readonly schemaVersion: number;
  readonly payload: unknown;
}

/** Checks payloads against their schemas; plugged into `PostgresEventStore` and `InMemoryEventStore`. */
export interface PayloadValidator {
  /**
   * @throws PayloadSchemaMismatchError when the payload does not match its schema.
   * @throws SchemaNotFoundError when the event type has no schema and the validator
   * requires one.
   */
  validate(event: ValidatedEvent): void;
}

/** Options of {@link createSchemaPayloadValidator}. */
export interface SchemaPayloadValidatorOptions {
  readonly catalog: EventSchemaCatalog;
  /** Codecs for the declared formats. Default: JSON Schema only (Avro/Protobuf: @tributary/outbox). */
  readonly codecs?: SchemaCodecs;
  /**
   * An event whose (aggregate type, event type, version) declares no schema: `allow` lets it
   * through, `reject` refuses it with `SchemaNotFoundError`. Default `allow`, so schemas can
   * be introduced one event type at a time.
   */
  readonly undeclared?: 'allow' | 'reject';
}

/**
 * A validator over declared schemas. Every declaration is compiled up front, so a broken
 * schema fails at start-up rather than on the first append of that event type.
 *
 * @throws InvalidSchemaError when a declared schema does not compile or its format has no
 * codec.
 */
export function createSchemaPayloadValidator(
  options: SchemaPayloadValidatorOptions,
): PayloadValidator {
  const codecs = options.codecs ?? new SchemaCodecs([createJsonSchemaCodec()]);
  const undeclared = options.undeclared ?? 'allow';
  for (const declaration of options.catalog.declarations) {
    try {
      codecs.compile(toRegistrySchema(declaration), compileOptionsOf(declaration));
    } catch (error) {
      if (error instanceof SchemaReferenceMissingError) throw error;
      throw new InvalidSchemaError(
        `Schema of ${declaration.aggregateType}/${declaration.eventType} v${declaration.schemaVersion} is unusable: ${error instanceof Error ? error.message : String(error)}`,
        error,
      );
    }
  }
  return {
    validate(event: ValidatedEvent): void {
      const declaration = options.catalog.find(
        event.aggregateType,
        event.eventType,
        event.schemaVersion,
      );
      if (declaration === undefined) {
        if (undeclared === 'allow') return;
        throw new SchemaNotFoundError(
          `No schema is declared for ${event.aggregateType}/${event.eventType} v${event.schemaVersion}, and undeclared events are rejected`,
          {
            aggregateType: event.aggregateType,
            eventType: event.eventType,
            schemaVersion: event.schemaVersion,
          },
        );
      }
      const issues = codecs
        .compile(toRegistrySchema(declaration), compileOptionsOf(declaration))
        .validate(event.payload);
      if (issues.length > 0) {
        throw new PayloadSchemaMismatchError(event.eventType, event.schemaVersion, issues);
      }
    },
  };
}

/**
 * Runs `validator` (when given) over the prepared events of one stream append. Event stores
 * call it after `prepareAppend` and before writing, so a mismatch writes nothing.
 *
 * @throws PayloadSchemaMismatchError or SchemaNotFoundError from the validator.
 */
export function validatePayloads(
  validator: PayloadValidator | undefined,
  stream: StreamRef,
  events: readonly {
    readonly eventType: string;
    readonly schemaVersion: number;
    readonly payload: unknown;
  }[],
): void {
  if (validator === undefined) return;
  for (const event of events) {
    validator.validate({
      aggregateType: stream.aggregateType,
      eventType: event.eventType,
      schemaVersion: event.schemaVersion,
      payload: event.payload,
    });
  }
}
