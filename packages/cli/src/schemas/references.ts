/**
 * Schema references in `tributary schemas check`: each referenced schema is checked once
 * against its own subject, and a declaration's schema is built with the registered
 * versions of what it references, or the typed error of a reference that is missing.
 */
import {
  compileOptionsOf,
  flattenReferences,
  registerReferences,
  SchemaReferenceMissingError,
  toRegistrySchema,
  type CompatibilityMode,
  type EventSchemaDeclaration,
  type RegistrySchema,
  type SchemaCodecs,
  type SchemaReferenceDeclaration,
  type SchemaRegistry,
} from '@tributary/core';
import type { SchemasCliOutput } from './command.js';

/**
 * Checks each referenced schema once (dependencies first) against its own subject. Returns
 * the breaks found; unregistered references end up in `unregistered`.
 */
export async function checkReferences(
  registry: SchemaRegistry,
  references: readonly SchemaReferenceDeclaration[],
  mode: CompatibilityMode,
  output: SchemasCliOutput,
  seen: Map<string, boolean>,
): Promise<number> {
  let breaks = 0;
  for (const reference of flattenReferences(references)) {
    // Keyed by content: two versions of a shared type are two schemas to check.
    const key = `${reference.subject}\u0000${reference.schema}`;
    if (seen.has(key)) continue;
    let schema: RegistrySchema = { format: reference.format, schema: reference.schema };
    try {
      const nested = await registerReferences(registry, reference.references, 'lookup');
      if (nested.length > 0) schema = { ...schema, references: nested };
    } catch (error) {
      if (!(error instanceof SchemaReferenceMissingError)) throw error;
      // Its own references are new too: it is new as a whole, checked once they exist.
      seen.set(key, false);
      output.out(
        `✓ ${reference.subject}: reference "${reference.name}" is new (it uses "${error.reference}", not registered yet)`,
      );
      continue;
    }
    const registered = await registry.lookup(reference.subject, schema);
    seen.set(key, registered !== undefined);
    if (registered !== undefined) {
      output.out(
        `✓ ${reference.subject}: reference "${reference.name}" is registered (version ${registered.version}, id ${registered.id})`,
      );
      continue;
    }
    const result = await registry.checkCompatibility(reference.subject, schema);
    if (result.compatible) {
      output.out(
        `✓ ${reference.subject}: reference "${reference.name}" is new or ${mode}-compatible`,
      );
      continue;
    }
    breaks += 1;
    output.err(
      `✗ ${reference.subject}: reference "${reference.name}" breaks ${mode} compatibility:\n` +
        (result.messages.length === 0 ? ['(the registry gave no details)'] : result.messages)
          .map((reason) => `    - ${reason}`)
          .join('\n'),
    );
  }
  return breaks;
}

/**
 * The declaration's schema as the registry would hold it (references with their registered
 * versions), or the typed error of a reference the declaration lacks or the registry lacks.
 */
export async function registrySchemaFor(
  registry: SchemaRegistry,
  codecs: SchemaCodecs,
  declaration: EventSchemaDeclaration,
): Promise<RegistrySchema | SchemaReferenceMissingError> {
  try {
    // Compiling locally finds a named type or import the declaration does not reference.
    codecs.compile(toRegistrySchema(declaration), compileOptionsOf(declaration));
    const references = await registerReferences(registry, declaration.references ?? [], 'lookup');
    return {
      ...toRegistrySchema(declaration),
      ...(references.length === 0 ? {} : { references }),
    };
  } catch (error) {
    if (error instanceof SchemaReferenceMissingError) return error;
    throw error;
  }
}
