/**
 * Declaring event schemas. Each event type declares one schema per schema version; old
 * versions stay declared so events already stored under them can still be encoded,
 * validated and checked for compatibility. JSON Schema is the default language; Avro and
 * Protobuf are declared as schema text and encoded by the codecs of @tributary/outbox.
 */
import { assertAggregateType, assertEventType, assertVersion } from '../identifiers.js';
import { InvalidSchemaError, SchemaNotFoundError } from './errors.js';
import type { CompileOptions } from './codec.js';
import { resolvedReferencesOf, type SchemaReferenceDeclaration } from './references.js';
import type { RegistrySchema, SchemaFormat } from './registry.js';

/** The schema of one (aggregate type, event type, schema version). */
export interface EventSchemaDeclaration {
  /** Aggregate type of the events: names their topic (`<prefix>.<AggregateType>`). */
  readonly aggregateType: string;
  readonly eventType: string;
  /** The envelope's `schemaVersion` this schema describes. Default 1. */
  readonly schemaVersion: number;
  readonly format: SchemaFormat;
  /** The schema text as registered (JSON text for JSON Schema and Avro, `.proto` source). */
  readonly schema: string;
  /**
   * Name of the record for the `record` and `topic-record` naming strategies: the Avro full
   * name, the Protobuf message, or the JSON Schema `title`; else the event type.
   */
  readonly recordName: string;
  /**
   * Shared types the schema uses (Avro named types, imported `.proto` files), registered
   * under their own subjects before it. Absent or empty: none.
   */
  readonly references?: readonly SchemaReferenceDeclaration[];
}

/** Input of {@link jsonSchema}, {@link avroSchema} and {@link protobufSchema}. */
export interface SchemaDeclarationInput<Schema> {
  readonly aggregateType: string;
  readonly eventType: string;
  /** Default 1. */
  readonly schemaVersion?: number;
  readonly schema: Schema;
  /** Overrides the record name derived from the schema. */
  readonly recordName?: string;
  /**
   * Shared types the schema uses: {@link avroReference} for Avro named types,
   * {@link protobufReference} for imported `.proto` files (Avro and Protobuf only).
   */
  readonly references?: readonly SchemaReferenceDeclaration[];
}

function base(
  input: SchemaDeclarationInput<unknown>,
  format: SchemaFormat,
): Pick<EventSchemaDeclaration, 'aggregateType' | 'eventType' | 'schemaVersion' | 'references'> {
  assertAggregateType(input.aggregateType);
  assertEventType(input.eventType);
  const schemaVersion = input.schemaVersion ?? 1;
  assertVersion(`schema version of ${input.eventType}`, schemaVersion, 1);
  const references = input.references ?? [];
  for (const reference of references) {
    if (reference.format !== format) {
      throw new InvalidSchemaError(
        `${input.eventType}: a ${format} schema cannot reference the ${reference.format} schema "${reference.name}"`,
      );
    }
  }
  // Flattening rejects cycles and one name declared with two schemas, at declaration time.
  resolvedReferencesOf(references);
  return {
    aggregateType: input.aggregateType,
    eventType: input.eventType,
    schemaVersion,
    ...(references.length === 0 ? {} : { references }),
  };
}

function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidSchemaError(`${what} is not valid JSON`, error);
  }
}

/**
 * Declares a JSON Schema (the default language). Pass the schema as an object or as text.
 * Declare `"additionalProperties": false` if you want to add optional properties later
 * under BACKWARD compatibility: in an open content model, adding a property is a break
 * (see docs/schemas.md).
 */
export function jsonSchema(input: SchemaDeclarationInput<object | string>): EventSchemaDeclaration {
  if ((input.references ?? []).length > 0) {
    throw new InvalidSchemaError(
      `JSON Schema of ${input.eventType}: references are supported for Avro and Protobuf only; use a local $ref`,
    );
  }
  const head = base(input, 'JSON');
  const text = typeof input.schema === 'string' ? input.schema : JSON.stringify(input.schema);
  const parsed = parseJsonText(text, `JSON Schema of ${input.eventType}`);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidSchemaError(`JSON Schema of ${input.eventType} must be a JSON object`);
  }
  const title = (parsed as { title?: unknown }).title;
  return {
    ...head,
    format: 'JSON',
    schema: text,
    recordName: input.recordName ?? (typeof title === 'string' ? title : input.eventType),
  };
}

/** Declares an Avro schema (a record), as an object or as text. */
export function avroSchema(input: SchemaDeclarationInput<object | string>): EventSchemaDeclaration {
  const head = base(input, 'AVRO');
  const text = typeof input.schema === 'string' ? input.schema : JSON.stringify(input.schema);
  const parsed = parseJsonText(text, `Avro schema of ${input.eventType}`) as {
    type?: unknown;
    name?: unknown;
    namespace?: unknown;
  } | null;
  if (parsed === null || parsed.type !== 'record' || typeof parsed.name !== 'string') {
    throw new InvalidSchemaError(`Avro schema of ${input.eventType} must be a named record`);
  }
  const fullName =
    parsed.name.includes('.') || typeof parsed.namespace !== 'string'
      ? parsed.name
      : `${parsed.namespace}.${parsed.name}`;
  return { ...head, format: 'AVRO', schema: text, recordName: input.recordName ?? fullName };
}

/**
 * Declares a Protobuf schema (`.proto` source). The event's message is the one `recordName`
 * names (full name, or relative to the package), by default the file's first message; any
 * message of the file can be chosen, and records carry its Confluent message indexes.
 */
export function protobufSchema(input: SchemaDeclarationInput<string>): EventSchemaDeclaration {
  const head = base(input, 'PROTOBUF');
  // Comments and string literals could hold the words `package` or `message`.
  const code = input.schema
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ')
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""');
  const packageName = /(?:^|[;{}\s])package\s+([\w.]+)\s*;/.exec(code)?.[1];
  // The first `message` keyword is a top-level one: nested ones come after their parent's.
  const message = /(?:^|[;{}\s])message\s+(\w+)/.exec(code)?.[1];
  if (message === undefined) {
    throw new InvalidSchemaError(`Protobuf schema of ${input.eventType} declares no message`);
  }
  return {
    ...head,
    format: 'PROTOBUF',
    schema: input.schema,
    recordName:
      input.recordName ?? (packageName === undefined ? message : `${packageName}.${message}`),
  };
}

/**
 * The {@link RegistrySchema} of a declaration, without its references (their versions are
 * the registry's: see `registerReferences`).
 */
export function toRegistrySchema(declaration: EventSchemaDeclaration): RegistrySchema {
  return { format: declaration.format, schema: declaration.schema };
}

/** What codecs need to compile a declaration: its record name and referenced schemas. */
export function compileOptionsOf(declaration: EventSchemaDeclaration): CompileOptions {
  const references = resolvedReferencesOf(declaration.references ?? []);
  return {
    recordName: declaration.recordName,
    ...(references.length === 0 ? {} : { references }),
  };
}

const key = (aggregateType: string, eventType: string, schemaVersion: number): string =>
  `${aggregateType}\u0000${eventType}\u0000${schemaVersion}`;

/**
 * The declared schemas of an application, indexed for lookups on the hot path (validation
 * at append, encoding at capture).
 */
export class EventSchemaCatalog {
  readonly #byKey = new Map<string, EventSchemaDeclaration>();
  /** Every declaration, in declaration order. */
  readonly declarations: readonly EventSchemaDeclaration[];

  /**
   * @throws InvalidSchemaError when one (aggregate type, event type, version) is declared
   * twice: which schema applies would be ambiguous.
   */
  constructor(declarations: readonly EventSchemaDeclaration[]) {
    for (const declaration of declarations) {
      const k = key(declaration.aggregateType, declaration.eventType, declaration.schemaVersion);
      if (this.#byKey.has(k)) {
        throw new InvalidSchemaError(
          `${declaration.aggregateType}/${declaration.eventType} v${declaration.schemaVersion} is declared twice`,
        );
      }
      this.#byKey.set(k, declaration);
    }
    this.declarations = [...declarations];
  }

  /** The declaration of one event type version, or `undefined`. */
  find(
    aggregateType: string,
    eventType: string,
    schemaVersion: number,
  ): EventSchemaDeclaration | undefined {
    return this.#byKey.get(key(aggregateType, eventType, schemaVersion));
  }

  /**
   * The declaration of one event type version.
   *
   * @throws SchemaNotFoundError when none is declared.
   */
  get(aggregateType: string, eventType: string, schemaVersion: number): EventSchemaDeclaration {
    const found = this.find(aggregateType, eventType, schemaVersion);
    if (found === undefined) {
      throw new SchemaNotFoundError(
        `No schema is declared for ${aggregateType}/${eventType} v${schemaVersion}`,
        { aggregateType, eventType, schemaVersion },
      );
    }
    return found;
  }
}

/** Builds the {@link EventSchemaCatalog} of a list of declarations. */
export function defineEventSchemas(
  declarations: readonly EventSchemaDeclaration[],
): EventSchemaCatalog {
  return new EventSchemaCatalog(declarations);
}
