/**
 * Protobuf compatibility by Confluent Schema Registry's rules (its `protobuf/diff` package):
 * compare the original file with the update, collect differences, and report the ones
 * Confluent does not list as compatible. BACKWARD compares (previous → candidate), FORWARD
 * (candidate → previous), FULL both — the same single diff in both directions, as Confluent
 * does.
 *
 * Compatible (not reported): adding or removing messages' fields, renaming fields, adding
 * messages, moving or reordering messages (records carry message indexes relative to their
 * own schema id), adding, removing or changing enums and enum values, adding or removing a
 * oneof, adding a field to a oneof. Breaks (reported, each naming the message and field):
 * `PACKAGE_CHANGED`, `MESSAGE_REMOVED`, `FIELD_KIND_CHANGED` (scalar/enum vs message vs
 * map), `FIELD_SCALAR_KIND_CHANGED` (outside one wire-compatible group: int32/int64/
 * uint32/uint64/bool/enums, sint32/sint64, string/bytes, fixed32/sfixed32,
 * fixed64/sfixed64, float, double), `FIELD_NAMED_TYPE_CHANGED` (another message type),
 * `REQUIRED_FIELD_ADDED` / `REQUIRED_FIELD_REMOVED` (proto2), `ONEOF_FIELD_REMOVED`,
 * `MULTIPLE_FIELDS_MOVED_TO_ONEOF`, `FIELD_MOVED_TO_EXISTING_ONEOF`.
 */
import {
  InvalidSchemaError,
  SchemaReferenceMissingError,
  type ResolvedSchemaReference,
} from '@tributary/core';
import protobuf from 'protobufjs';

/** Confluent's serializers register a base64 `FileDescriptorProto`; not compared here. */
const SERIALIZED = /^[A-Za-z0-9+/]+={0,2}$/;

interface ParsedProto {
  /** The file's own declarations (its package namespace). */
  readonly own: protobuf.NamespaceBase;
  readonly packageName: string;
  /** The file with its references, for resolving the types fields name. */
  readonly all: protobuf.Root;
}

const importsOf = (parsed: protobuf.IParserResult): string[] => [
  ...(parsed.imports ?? []),
  ...(parsed.weakImports ?? []),
];

/**
 * Parses `.proto` text and the files it references.
 *
 * @throws InvalidSchemaError when it does not parse or declares no message.
 * @throws SchemaReferenceMissingError when it imports a file that is neither a well-known
 * type nor among its references.
 */
export function parseProtobuf(
  text: string,
  references: readonly ResolvedSchemaReference[] = [],
): ParsedProto | undefined {
  if (SERIALIZED.test(text.trim())) return undefined;
  const names = new Set(references.map((reference) => reference.name));
  try {
    const alone = protobuf.parse(text, new protobuf.Root(), { keepCase: true });
    for (const imported of importsOf(alone)) {
      if (!imported.startsWith('google/protobuf/') && !names.has(imported)) {
        throw new SchemaReferenceMissingError(
          imported,
          `Protobuf schema imports "${imported}", which is neither a well-known type nor among its references`,
        );
      }
    }
    const packageName = alone.package ?? '';
    const own = packageName === '' ? alone.root : alone.root.lookup(packageName);
    if (!(own instanceof protobuf.Namespace) && !(own instanceof protobuf.Root)) {
      throw new Error(`package ${packageName} not found`);
    }
    if (!own.nestedArray.some((entry) => entry instanceof protobuf.Type)) {
      throw new Error('declares no message');
    }
    const all = new protobuf.Root();
    for (const reference of references) {
      if (!SERIALIZED.test(reference.schema.trim())) {
        protobuf.parse(reference.schema, all, { keepCase: true });
      }
    }
    protobuf.parse(text, all, { keepCase: true });
    return { own, packageName, all };
  } catch (error) {
    if (error instanceof SchemaReferenceMissingError) throw error;
    throw new InvalidSchemaError(
      `Protobuf schema does not parse: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
}

const SCALAR_GROUPS: Readonly<Record<string, string>> = {
  int32: 'GENERAL_NUMBER',
  int64: 'GENERAL_NUMBER',
  uint32: 'GENERAL_NUMBER',
  uint64: 'GENERAL_NUMBER',
  bool: 'GENERAL_NUMBER',
  sint32: 'SIGNED_NUMBER',
  sint64: 'SIGNED_NUMBER',
  string: 'STRING_OR_BYTES',
  bytes: 'STRING_OR_BYTES',
  fixed32: 'FIXED32',
  sfixed32: 'FIXED32',
  fixed64: 'FIXED64',
  sfixed64: 'FIXED64',
  float: 'FLOAT',
  double: 'DOUBLE',
};

type FieldKind =
  | { readonly kind: 'SCALAR'; readonly group: string }
  | { readonly kind: 'MESSAGE'; readonly name: string }
  | { readonly kind: 'MAP'; readonly key: FieldKind; readonly value: FieldKind };

interface Side {
  readonly file: ParsedProto;
}

/** The kind of a type name as seen from `scope` (enums count as general numbers). */
function kindOf(typeName: string, scope: protobuf.ReflectionObject, side: Side): FieldKind {
  const group = SCALAR_GROUPS[typeName];
  if (group !== undefined) return { kind: 'SCALAR', group };
  // Resolve in the file-plus-references root, from the same scope in it.
  const scopeInAll = side.file.all.lookup(scope.fullName.replace(/^\./, ''));
  const found = (scopeInAll instanceof protobuf.Namespace ? scopeInAll : side.file.all).lookup(
    typeName,
  );
  if (found instanceof protobuf.Enum) return { kind: 'SCALAR', group: 'GENERAL_NUMBER' };
  const fullName = (found?.fullName ?? typeName).replace(/^\./, '');
  const prefix = side.file.packageName === '' ? '' : `${side.file.packageName}.`;
  // Local names, as Confluent compares them: a package change is reported once, not per field.
  return {
    kind: 'MESSAGE',
    name: fullName.startsWith(prefix) ? fullName.slice(prefix.length) : fullName,
  };
}

function fieldKind(field: protobuf.Field, side: Side): FieldKind {
  const parent = field.parent ?? side.file.own;
  if (field instanceof protobuf.MapField) {
    return {
      kind: 'MAP',
      key: kindOf(field.keyType, parent, side),
      value: kindOf(field.type, parent, side),
    };
  }
  return kindOf(field.type, parent, side);
}

interface Context {
  readonly original: Side;
  readonly update: Side;
  readonly breaks: string[];
}

function compareKinds(ctx: Context, original: FieldKind, update: FieldKind, where: string): void {
  if (original.kind !== update.kind) {
    ctx.breaks.push(`FIELD_KIND_CHANGED at ${where}`);
  } else if (original.kind === 'SCALAR' && update.kind === 'SCALAR') {
    if (original.group !== update.group) ctx.breaks.push(`FIELD_SCALAR_KIND_CHANGED at ${where}`);
  } else if (original.kind === 'MESSAGE' && update.kind === 'MESSAGE') {
    if (original.name !== update.name) ctx.breaks.push(`FIELD_NAMED_TYPE_CHANGED at ${where}`);
  } else if (original.kind === 'MAP' && update.kind === 'MAP') {
    compareKinds(ctx, original.key, update.key, `${where} (map key)`);
    compareKinds(ctx, original.value, update.value, `${where} (map value)`);
  }
}

/** proto2 `required` (protobufjs only derives `required` on resolve; the rule is parsed). */
const isRequired = (field: protobuf.Field): boolean =>
  (field as unknown as { readonly rule?: string }).rule === 'required';

const fieldWhere = (message: protobuf.Type, field: protobuf.Field): string =>
  `${message.fullName.replace(/^\./, '')}.${field.name} (field ${field.id})`;

const compareFields = (
  ctx: Context,
  message: protobuf.Type,
  original: protobuf.Field,
  update: protobuf.Field,
): void => {
  compareKinds(
    ctx,
    fieldKind(original, ctx.original),
    fieldKind(update, ctx.update),
    fieldWhere(message, update),
  );
};

/** Real oneofs: proto3 `optional` fields are synthetic one-member oneofs in protobufjs. */
const oneofsOf = (message: protobuf.Type): protobuf.OneOf[] =>
  message.oneofsArray.filter(
    (oneof) =>
      !oneof.fieldsArray.every((field) => field.options?.proto3_optional === true) &&
      !(oneof.name.startsWith('_') && oneof.fieldsArray.length === 1),
  );

function compareMessages(ctx: Context, original: protobuf.Type, update: protobuf.Type): void {
  const oneofOf = (message: protobuf.Type): Map<number, string> =>
    new Map(
      oneofsOf(message).flatMap((oneof) =>
        oneof.fieldsArray.map((field): [number, string] => [field.id, oneof.name]),
      ),
    );
  const originalOneofOf = oneofOf(original);
  const updateOneofOf = oneofOf(update);
  const originalById = new Map(original.fieldsArray.map((field) => [field.id, field]));
  const updateById = new Map(update.fieldsArray.map((field) => [field.id, field]));
  // Top-level (non-oneof) fields of the original that a oneof of the update took in.
  const movedIntoOneof = new Set<number>();

  for (const oneof of oneofsOf(update)) {
    let moved = 0;
    let existing = 0;
    for (const field of oneof.fieldsArray) {
      if (originalById.has(field.id) && !originalOneofOf.has(field.id)) {
        moved += 1;
        movedIntoOneof.add(field.id);
      } else if (originalOneofOf.has(field.id)) {
        existing += 1;
      }
    }
    const where = `${update.fullName.replace(/^\./, '')}.${oneof.name} (oneof)`;
    if (moved > 1) ctx.breaks.push(`MULTIPLE_FIELDS_MOVED_TO_ONEOF at ${where}`);
    else if (moved === 1 && existing > 0)
      ctx.breaks.push(`FIELD_MOVED_TO_EXISTING_ONEOF at ${where}`);
  }

  for (const oneof of oneofsOf(original)) {
    for (const field of oneof.fieldsArray) {
      // A field that left the oneof but still exists elsewhere was relocated, not removed.
      if (!updateById.has(field.id)) {
        ctx.breaks.push(`ONEOF_FIELD_REMOVED at ${fieldWhere(original, field)}`);
      }
    }
  }

  for (const [id, originalField] of originalById) {
    const updateField = updateById.get(id);
    if (updateField === undefined) {
      if (originalOneofOf.has(id)) continue; // reported as ONEOF_FIELD_REMOVED above
      if (isRequired(originalField)) {
        ctx.breaks.push(`REQUIRED_FIELD_REMOVED at ${fieldWhere(original, originalField)}`);
      }
      continue;
    }
    compareFields(ctx, update, originalField, updateField);
  }
  for (const [id, updateField] of updateById) {
    if (!originalById.has(id) && isRequired(updateField) && !updateOneofOf.has(id)) {
      ctx.breaks.push(`REQUIRED_FIELD_ADDED at ${fieldWhere(update, updateField)}`);
    }
  }
  compareNested(ctx, original, update);
}

function compareNested(
  ctx: Context,
  original: protobuf.NamespaceBase,
  update: protobuf.NamespaceBase,
): void {
  const messages = (namespace: protobuf.NamespaceBase): Map<string, protobuf.Type> =>
    new Map(
      namespace.nestedArray
        .filter((entry): entry is protobuf.Type => entry instanceof protobuf.Type)
        .map((type) => [type.name, type]),
    );
  const updateMessages = messages(update);
  for (const [name, originalMessage] of messages(original)) {
    const updateMessage = updateMessages.get(name);
    if (updateMessage === undefined) {
      ctx.breaks.push(`MESSAGE_REMOVED at ${originalMessage.fullName.replace(/^\./, '')}`);
    } else {
      compareMessages(ctx, originalMessage, updateMessage);
    }
  }
}

/**
 * Why a reader with `reader` cannot read data written with `writer` (empty = it can),
 * by Confluent's rules: the differences from `writer` (original) to `reader` (update)
 * that Confluent does not list as compatible. Each side comes with the files it imports.
 * Serialized (base64 descriptor) schemas are not compared.
 */
export function protobufReadBreaks(
  writer: string,
  reader: string,
  writerReferences: readonly ResolvedSchemaReference[] = [],
  readerReferences: readonly ResolvedSchemaReference[] = [],
): string[] {
  const original = parseProtobuf(writer, writerReferences);
  const update = parseProtobuf(reader, readerReferences);
  if (original === undefined || update === undefined) return [];
  const ctx: Context = { original: { file: original }, update: { file: update }, breaks: [] };
  if (original.packageName !== update.packageName) {
    ctx.breaks.push(`PACKAGE_CHANGED from "${original.packageName}" to "${update.packageName}"`);
  }
  compareNested(ctx, original.own, update.own);
  return [...new Set(ctx.breaks)];
}
