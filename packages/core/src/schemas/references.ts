/**
 * Schema references: types shared between schemas. An Avro named type or a Protobuf file
 * is declared once, registered under a subject of its own before any schema that uses it,
 * and named in that schema's Confluent `references` (`{ name, subject, version }`), so the
 * registry, Confluent's deserializers and Tributary's decoder can all put the pieces back
 * together.
 */
import { InvalidSchemaError, SchemaReferenceMissingError } from './errors.js';
import type { RegistrySchema, SchemaReference, SchemaRegistry } from './registry.js';

/** A shared type that schemas reference. */
export interface SchemaReferenceDeclaration {
  readonly format: 'AVRO' | 'PROTOBUF';
  /** The name schemas use for it: the Avro full name, or the `.proto` file's import path. */
  readonly name: string;
  /**
   * The subject it is registered under. Default: its name, which is Confluent's
   * `DefaultReferenceSubjectNameStrategy` (what Confluent's Protobuf serializer registers
   * imports under), whatever strategy names the event subjects: a shared type belongs to
   * no topic.
   */
  readonly subject: string;
  /** The schema text: Avro JSON of one named type, or `.proto` source. */
  readonly schema: string;
  /** What it references in turn. */
  readonly references: readonly SchemaReferenceDeclaration[];
}

/** A referenced schema's text under the name schemas use for it; what codecs compile with. */
export interface ResolvedSchemaReference {
  readonly name: string;
  readonly schema: string;
}

/** Input of {@link avroReference}. */
export interface AvroReferenceInput {
  /** One named type (record, enum or fixed), as an object or as text. */
  readonly schema: object | string;
  /** Default: the type's full name. */
  readonly subject?: string;
  readonly references?: readonly SchemaReferenceDeclaration[];
}

/**
 * Declares an Avro named type that schemas use by its full name (`"type": "bank.Money"`).
 *
 * @throws InvalidSchemaError when the text is not a named Avro type.
 */
export function avroReference(input: AvroReferenceInput): SchemaReferenceDeclaration {
  const text = typeof input.schema === 'string' ? input.schema : JSON.stringify(input.schema);
  let parsed: { name?: unknown; namespace?: unknown } | null;
  try {
    parsed = JSON.parse(text) as { name?: unknown; namespace?: unknown } | null;
  } catch (error) {
    throw new InvalidSchemaError('Avro reference is not valid JSON', error);
  }
  if (parsed === null || typeof parsed.name !== 'string') {
    throw new InvalidSchemaError('An Avro reference must be a named type (record, enum or fixed)');
  }
  const name =
    parsed.name.includes('.') || typeof parsed.namespace !== 'string'
      ? parsed.name
      : `${parsed.namespace}.${parsed.name}`;
  return {
    format: 'AVRO',
    name,
    subject: input.subject ?? name,
    schema: text,
    references: input.references ?? [],
  };
}

/** Input of {@link protobufReference}. */
export interface ProtobufReferenceInput {
  /** The path schemas import it by (`import "acme/common/v1/money.proto";`). */
  readonly path: string;
  /** Its `.proto` source. */
  readonly schema: string;
  /** Default: the path. */
  readonly subject?: string;
  readonly references?: readonly SchemaReferenceDeclaration[];
}

/** Declares a `.proto` file that Protobuf schemas import. */
export function protobufReference(input: ProtobufReferenceInput): SchemaReferenceDeclaration {
  if (input.path.trim() === '' || !input.path.endsWith('.proto')) {
    throw new InvalidSchemaError(
      `Protobuf reference path "${input.path}" must be the import path of a .proto file`,
    );
  }
  return {
    format: 'PROTOBUF',
    name: input.path,
    subject: input.subject ?? input.path,
    schema: input.schema,
    references: input.references ?? [],
  };
}

/**
 * Every reference reachable from `references`, dependencies before the schemas that use
 * them, each once.
 *
 * @throws InvalidSchemaError when one name stands for two different schemas.
 */
export function flattenReferences(
  references: readonly SchemaReferenceDeclaration[],
): SchemaReferenceDeclaration[] {
  const seen = new Map<string, SchemaReferenceDeclaration>();
  const visit = (reference: SchemaReferenceDeclaration, path: readonly string[]): void => {
    if (path.includes(reference.name)) {
      throw new InvalidSchemaError(
        `Schema references form a cycle: ${[...path, reference.name].join(' → ')}`,
      );
    }
    const known = seen.get(reference.name);
    if (known !== undefined) {
      if (known.schema !== reference.schema || known.subject !== reference.subject) {
        throw new InvalidSchemaError(
          `Two different schemas are declared as reference "${reference.name}"; declare it once and share the declaration`,
        );
      }
      return;
    }
    for (const nested of reference.references) visit(nested, [...path, reference.name]);
    seen.set(reference.name, reference);
  };
  for (const reference of references) visit(reference, []);
  return [...seen.values()];
}

/** The codecs' view of declared references: names and texts, dependencies first. */
export function resolvedReferencesOf(
  references: readonly SchemaReferenceDeclaration[],
): ResolvedSchemaReference[] {
  return flattenReferences(references).map(({ name, schema }) => ({ name, schema }));
}

/**
 * Registers declared references under their subjects (`register`) or finds their
 * registrations (`lookup`), dependencies first; returns the direct references with the
 * versions the registry gave them, ready for the referencing schema.
 *
 * @throws SchemaReferenceMissingError when looking up and a reference is not registered.
 */
export async function registerReferences(
  registry: Pick<SchemaRegistry, 'register' | 'lookup'>,
  references: readonly SchemaReferenceDeclaration[],
  how: 'register' | 'lookup',
): Promise<SchemaReference[]> {
  const direct: SchemaReference[] = [];
  for (const reference of references) {
    const nested = await registerReferences(registry, reference.references, how);
    const schema: RegistrySchema = {
      format: reference.format,
      schema: reference.schema,
      ...(nested.length === 0 ? {} : { references: nested }),
    };
    const registered =
      how === 'register'
        ? await registry.register(reference.subject, schema)
        : await registry.lookup(reference.subject, schema);
    if (registered === undefined) {
      throw new SchemaReferenceMissingError(
        reference.name,
        `Referenced schema "${reference.name}" is not registered under subject "${reference.subject}"; run \`tributary schemas register\` (it registers references first) or use registration "auto"`,
        reference.subject,
      );
    }
    direct.push({ name: reference.name, subject: reference.subject, version: registered.version });
  }
  return direct;
}

/**
 * Fetches the schemas `references` point to, transitively, dependencies first, each name
 * once: what a reader needs to compile a schema it got by id.
 *
 * @throws SchemaReferenceMissingError when a subject/version does not exist.
 */
export async function fetchReferences(
  registry: Pick<SchemaRegistry, 'getVersion'>,
  references: readonly SchemaReference[],
): Promise<ResolvedSchemaReference[]> {
  const out = new Map<string, ResolvedSchemaReference>();
  const visit = async (reference: SchemaReference): Promise<void> => {
    if (out.has(reference.name)) return;
    const found = await registry.getVersion(reference.subject, reference.version);
    if (found === undefined) {
      throw new SchemaReferenceMissingError(
        reference.name,
        `Referenced schema "${reference.name}" (subject "${reference.subject}", version ${reference.version}) is not in the registry`,
        reference.subject,
      );
    }
    for (const nested of found.schema.references ?? []) await visit(nested);
    out.set(reference.name, { name: reference.name, schema: found.schema.schema });
  };
  for (const reference of references) await visit(reference);
  return [...out.values()];
}
