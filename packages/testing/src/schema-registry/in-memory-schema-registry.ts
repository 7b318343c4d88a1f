/**
 * A schema registry in memory that behaves like the local stack's (Apicurio Registry
 * through its Confluent-compatible API): same ids for the same content across subjects,
 * idempotent registration, the same JSON Schema and Avro compatibility rules, and the same
 * default compatibility mode (`NONE`). The shared contract suite keeps the two aligned.
 */
import {
  COMPATIBILITY_MODES,
  IncompatibleSchemaError,
  InvalidSchemaError,
  RegistryUnavailableError,
  SchemaNotFoundError,
  SchemaReferenceMissingError,
  type CompatibilityMode,
  type CompatibilityResult,
  type RegisteredSchema,
  type RegistrySchema,
  type ResolvedSchemaReference,
  type SchemaRegistry,
} from '@tributary/core';
import { avroReadBreaks, parseAvro } from './avro-compatibility.js';
import { jsonSchemaBackwardBreaks } from './json-schema-compatibility.js';
import { parseProtobuf, protobufReadBreaks } from './protobuf-compatibility.js';

/** Options of {@link InMemorySchemaRegistry}. */
export interface InMemorySchemaRegistryOptions {
  /**
   * Global compatibility mode. Default `NONE`, like Apicurio (Confluent's default is
   * `BACKWARD`; `tributary schemas register` sets each subject's mode explicitly).
   */
  readonly compatibility?: CompatibilityMode;
}

interface Version {
  readonly version: number;
  readonly id: number;
}

// References are part of a schema's identity: the same text with other references is
// another schema (another id), as in Confluent and Apicurio.
const contentKey = (schema: RegistrySchema): string =>
  `${schema.format}\u0000${schema.schema}\u0000${JSON.stringify(
    (schema.references ?? []).map(({ name, subject, version }) => [name, subject, version]),
  )}`;

/** Finds the texts of the schemas a schema references (dependencies first). */
type ReferenceResolver = (schema: RegistrySchema) => readonly ResolvedSchemaReference[];

const noReferences: ReferenceResolver = () => [];

/**
 * Why `candidate` breaks `existing` in one direction: can a reader with `reader` read data
 * written with `writer`?
 */
function readBreaks(
  writer: RegistrySchema,
  reader: RegistrySchema,
  resolve: ReferenceResolver,
): string[] {
  switch (writer.format) {
    case 'JSON':
      return jsonSchemaBackwardBreaks(writer.schema, reader.schema);
    case 'AVRO':
      return avroReadBreaks(writer.schema, reader.schema, resolve(writer), resolve(reader));
    case 'PROTOBUF':
      return protobufReadBreaks(writer.schema, reader.schema, resolve(writer), resolve(reader));
  }
}

/**
 * Why registering `candidate` after `existing` breaks `mode` (empty = compatible). Exported
 * for the CLI's offline explanations and for tests. `resolve` supplies the schemas that
 * referencing schemas use (default: none).
 */
export function compatibilityBreaks(
  mode: CompatibilityMode,
  existing: readonly RegistrySchema[],
  candidate: RegistrySchema,
  resolve: ReferenceResolver = noReferences,
): string[] {
  if (mode === 'NONE' || existing.length === 0) return [];
  const transitive = mode.endsWith('_TRANSITIVE');
  const against = transitive ? existing : existing.slice(-1);
  const backward = mode.startsWith('BACKWARD') || mode.startsWith('FULL');
  const forward = mode.startsWith('FORWARD') || mode.startsWith('FULL');
  const breaks: string[] = [];
  for (const old of against) {
    if (old.format !== candidate.format) {
      breaks.push(`SCHEMA_TYPE_CHANGED from ${old.format} to ${candidate.format}`);
      continue;
    }
    if (backward) breaks.push(...readBreaks(old, candidate, resolve));
    if (forward) breaks.push(...readBreaks(candidate, old, resolve));
  }
  return [...new Set(breaks)];
}

function validateSchema(schema: RegistrySchema, resolve: ReferenceResolver): void {
  switch (schema.format) {
    case 'JSON':
      try {
        JSON.parse(schema.schema);
      } catch (error) {
        throw new InvalidSchemaError('JSON Schema text is not valid JSON', error);
      }
      // Loading both sides against itself surfaces unusable schemas (bad $ref, unknown type).
      jsonSchemaBackwardBreaks(schema.schema, schema.schema);
      return;
    case 'AVRO':
      parseAvro(schema.schema, resolve(schema));
      return;
    case 'PROTOBUF':
      parseProtobuf(schema.schema, resolve(schema));
      return;
  }
}

/** The in-memory {@link SchemaRegistry}. */
export class InMemorySchemaRegistry implements SchemaRegistry {
  readonly #subjects = new Map<string, Version[]>();
  readonly #schemasById = new Map<number, RegistrySchema>();
  readonly #idsByContent = new Map<string, number>();
  readonly #modes = new Map<string, CompatibilityMode>();
  #globalMode: CompatibilityMode;
  #nextId = 1;
  #available = true;
  /** Requests served, by method name: lets tests assert that caches work. */
  readonly requests = new Map<string, number>();

  constructor(options: InMemorySchemaRegistryOptions = {}) {
    this.#globalMode = options.compatibility ?? 'NONE';
  }

  /**
   * Simulates an outage: while unavailable, every call fails with the retriable
   * `RegistryUnavailableError`, like a real client when the registry is down.
   */
  setAvailable(available: boolean): void {
    this.#available = available;
  }

  #enter(method: string): void {
    this.requests.set(method, (this.requests.get(method) ?? 0) + 1);
    if (!this.#available) {
      throw new RegistryUnavailableError(`Schema registry unavailable (${method}, simulated)`);
    }
  }

  #effectiveMode(subject: string): CompatibilityMode {
    return this.#modes.get(subject) ?? this.#globalMode;
  }

  #registered(subject: string, version: Version): RegisteredSchema {
    return {
      subject,
      version: version.version,
      id: version.id,
      schema: this.#schemasById.get(version.id) as RegistrySchema,
    };
  }

  /**
   * The texts of what `schema` references, transitively, dependencies first, like the real
   * registry resolves them (Apicurio answers `Unresolved reference` otherwise).
   *
   * @throws SchemaReferenceMissingError naming a reference whose subject/version is absent.
   */
  readonly #resolve: ReferenceResolver = (schema) => {
    const out = new Map<string, ResolvedSchemaReference>();
    const visit = (references: RegistrySchema['references']): void => {
      for (const reference of references ?? []) {
        if (out.has(reference.name)) continue;
        const version = this.#subjects
          .get(reference.subject)
          ?.find((entry) => entry.version === reference.version);
        if (version === undefined) {
          throw new SchemaReferenceMissingError(
            reference.name,
            `Unresolved reference "${reference.name}": subject "${reference.subject}" has no version ${reference.version}; register the referenced schema first`,
            reference.subject,
          );
        }
        const referenced = this.#schemasById.get(version.id) as RegistrySchema;
        visit(referenced.references);
        out.set(reference.name, { name: reference.name, schema: referenced.schema });
      }
    };
    visit(schema.references);
    return [...out.values()];
  };

  register(subject: string, schema: RegistrySchema): Promise<RegisteredSchema> {
    return settle(() => {
      this.#enter('register');
      const existing = this.#lookupSync(subject, schema);
      if (existing !== undefined) return existing;
      validateSchema(schema, this.#resolve);
      const versions = this.#subjects.get(subject) ?? [];
      const breaks = compatibilityBreaks(
        this.#effectiveMode(subject),
        versions.map((version) => this.#schemasById.get(version.id) as RegistrySchema),
        schema,
        this.#resolve,
      );
      if (breaks.length > 0) throw new IncompatibleSchemaError(subject, breaks);
      const key = contentKey(schema);
      let id = this.#idsByContent.get(key);
      if (id === undefined) {
        id = this.#nextId;
        this.#nextId += 1;
        this.#idsByContent.set(key, id);
        this.#schemasById.set(id, {
          format: schema.format,
          schema: schema.schema,
          ...((schema.references ?? []).length === 0
            ? {}
            : { references: [...(schema.references ?? [])] }),
        });
      }
      const version: Version = { version: (versions.at(-1)?.version ?? 0) + 1, id };
      versions.push(version);
      this.#subjects.set(subject, versions);
      return this.#registered(subject, version);
    });
  }

  #lookupSync(subject: string, schema: RegistrySchema): RegisteredSchema | undefined {
    const id = this.#idsByContent.get(contentKey(schema));
    const version = this.#subjects.get(subject)?.find((entry) => entry.id === id);
    return version === undefined ? undefined : this.#registered(subject, version);
  }

  lookup(subject: string, schema: RegistrySchema): Promise<RegisteredSchema | undefined> {
    return settle(() => {
      this.#enter('lookup');
      return this.#lookupSync(subject, schema);
    });
  }

  getVersion(subject: string, version: number): Promise<RegisteredSchema | undefined> {
    return settle(() => {
      this.#enter('getVersion');
      const found = this.#subjects.get(subject)?.find((entry) => entry.version === version);
      return found === undefined ? undefined : this.#registered(subject, found);
    });
  }

  latest(subject: string): Promise<RegisteredSchema | undefined> {
    return settle(() => {
      this.#enter('latest');
      const last = this.#subjects.get(subject)?.at(-1);
      return last === undefined ? undefined : this.#registered(subject, last);
    });
  }

  versions(subject: string): Promise<readonly number[]> {
    return settle(() => {
      this.#enter('versions');
      return (this.#subjects.get(subject) ?? []).map((entry) => entry.version);
    });
  }

  getById(id: number): Promise<RegistrySchema> {
    return settle(() => {
      this.#enter('getById');
      const schema = this.#schemasById.get(id);
      if (schema === undefined) throw new SchemaNotFoundError(`No schema with id ${id}`, { id });
      return schema;
    });
  }

  subjects(): Promise<readonly string[]> {
    return settle(() => {
      this.#enter('subjects');
      return [...this.#subjects.keys()];
    });
  }

  checkCompatibility(subject: string, schema: RegistrySchema): Promise<CompatibilityResult> {
    return settle(() => {
      this.#enter('checkCompatibility');
      validateSchema(schema, this.#resolve);
      const versions = this.#subjects.get(subject) ?? [];
      const messages = compatibilityBreaks(
        this.#effectiveMode(subject),
        versions.map((version) => this.#schemasById.get(version.id) as RegistrySchema),
        schema,
        this.#resolve,
      );
      return { compatible: messages.length === 0, messages };
    });
  }

  getCompatibility(subject?: string): Promise<CompatibilityMode> {
    return settle(() => {
      this.#enter('getCompatibility');
      return subject === undefined ? this.#globalMode : this.#effectiveMode(subject);
    });
  }

  setCompatibility(mode: CompatibilityMode, subject?: string): Promise<void> {
    return settle(() => {
      this.#enter('setCompatibility');
      if (!COMPATIBILITY_MODES.includes(mode)) {
        throw new InvalidSchemaError(`Unknown compatibility mode ${String(mode)}`);
      }
      if (subject === undefined) this.#globalMode = mode;
      else this.#modes.set(subject, mode);
    });
  }

  deleteSubject(subject: string): Promise<void> {
    return settle(() => {
      this.#enter('deleteSubject');
      // Ids stay resolvable, as in Confluent: records already written keep decoding.
      this.#subjects.delete(subject);
      this.#modes.delete(subject);
    });
  }
}

/** Runs `body` and turns its result or exception into a promise (never throws synchronously). */
function settle<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
