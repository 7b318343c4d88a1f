/**
 * The Protobuf codec: `.proto` text parsed by protobufjs (a maintained parser and encoder,
 * rather than a hand-written subset), payloads in the proto3 JSON mapping, and Confluent's
 * message indexes before the message so that any message of a file can be the event's
 * and every Confluent deserializer finds it.
 */
import {
  InvalidSchemaError,
  SchemaReferenceMissingError,
  SerializationError,
  type CompiledSchema,
  type CompileOptions,
  type PayloadIssue,
  type RegistrySchema,
  type SchemaCodec,
} from '@tributary/core';
import protobuf from 'protobufjs';
// Adds Root.fromDescriptor (to the same protobufjs instance) and the descriptor types.
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { fromProto3Json, toProto3Json } from './proto3-json.js';

/** Imports protobufjs bundles (protobuf.common): Timestamp, Duration, wrappers, … */
const wellKnown = (path: string): protobuf.INamespace | undefined =>
  (protobuf.common as unknown as { get(file: string): protobuf.INamespace | null }).get(path) ??
  undefined;

interface ParsedFile {
  /** The file alone (not resolved): its own declarations, in declaration order. */
  readonly own: protobuf.Namespace;
  /** Everything, resolved: the file plus its imports. */
  readonly root: protobuf.Root;
  readonly packageName: string;
}

/**
 * Confluent's serializers register a file as a base64 `FileDescriptorProto` (the
 * `format=serialized` form), and a registry may hand that back by id.
 */
const SERIALIZED = /^[A-Za-z0-9+/]+={0,2}$/;

/** What a file's imports resolve to: referenced files' texts by import path. */
type ReferencedFiles = ReadonlyMap<string, string>;

const missingImport = (imported: string, from: string): SchemaReferenceMissingError =>
  new SchemaReferenceMissingError(
    imported,
    `${from} imports "${imported}", which is neither a well-known type nor among its references; declare it with protobufReference({ path: '${imported}', schema }) and list it in \`references\``,
  );

/**
 * Adds `imported` (and, for a referenced file, what it imports in turn) to `root`, each
 * file once: well-known types from protobufjs's bundle, other files from the references.
 */
function addImport(
  root: protobuf.Root,
  imported: string,
  from: string,
  references: ReferencedFiles,
  added: Set<string>,
): void {
  if (added.has(imported)) return;
  added.add(imported);
  const referenced = references.get(imported);
  if (referenced !== undefined) {
    if (SERIALIZED.test(referenced.trim())) {
      throw new InvalidSchemaError(
        `referenced file "${imported}" is a serialized FileDescriptorProto; a .proto source that imports it must reference it as .proto text`,
      );
    }
    const parsed = protobuf.parse(referenced, root, { keepCase: true });
    for (const nested of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
      addImport(root, nested, imported, references, added);
    }
    return;
  }
  const bundled = wellKnown(imported);
  if (bundled === undefined) throw missingImport(imported, from);
  root.addJSON(bundled.nested ?? {});
}

interface DescriptorRoot {
  toDescriptor(syntax: string): { readonly file: readonly unknown[] };
}

interface FileDescriptor {
  readonly package?: string;
  readonly dependency?: readonly string[];
}

const fromDescriptor = (set: unknown): protobuf.Root =>
  (
    protobuf.Root as unknown as { fromDescriptor(this: void, set: unknown): protobuf.Root }
  ).fromDescriptor(set);

const decodeDescriptor = (text: string): FileDescriptor =>
  descriptor.FileDescriptorProto.decode(
    Buffer.from(text.trim(), 'base64'),
  ) as unknown as FileDescriptor;

/** The descriptors of what a serialized file imports, each file once. */
function importDescriptors(
  dependencies: readonly string[],
  references: ReferencedFiles,
  added: Set<string>,
): unknown[] {
  const files: unknown[] = [];
  for (const imported of dependencies) {
    if (added.has(imported)) continue;
    const referenced = references.get(imported);
    if (referenced !== undefined && SERIALIZED.test(referenced.trim())) {
      added.add(imported);
      const file = decodeDescriptor(referenced);
      files.push(...importDescriptors(file.dependency ?? [], references, added), file);
      continue;
    }
    // Text (or bundled) imports: parsed into a root of their own, then described.
    const root = new protobuf.Root();
    addImport(root, imported, 'the serialized schema', references, added);
    root.resolveAll();
    files.push(...(root as unknown as DescriptorRoot).toDescriptor('proto3').file);
  }
  return files;
}

function parseSerialized(text: string, references: ReferencedFiles): ParsedFile {
  const file = decodeDescriptor(text);
  const imports = importDescriptors(file.dependency ?? [], references, new Set());
  const packageName = file.package ?? '';
  const alone = fromDescriptor({ file: [...imports, file] });
  const own = packageName === '' ? alone : alone.lookup(packageName);
  if (!(own instanceof protobuf.Namespace)) throw new Error(`package ${packageName} not found`);
  // One root serves both: the imports live in google.protobuf, outside the file's package.
  return { own, root: alone, packageName };
}

function parseFile(text: string, references: ReferencedFiles): ParsedFile {
  if (SERIALIZED.test(text.trim())) return parseSerialized(text.trim(), references);
  const alone = protobuf.parse(text, new protobuf.Root(), { keepCase: true });
  const packageName = alone.package ?? '';
  const root = new protobuf.Root();
  const added = new Set<string>();
  for (const imported of [...(alone.imports ?? []), ...(alone.weakImports ?? [])]) {
    addImport(root, imported, 'the schema', references, added);
  }
  protobuf.parse(text, root, { keepCase: true });
  root.resolveAll();
  const own = packageName === '' ? alone.root : alone.root.lookup(packageName);
  if (!(own instanceof protobuf.Namespace)) throw new Error(`package ${packageName} not found`);
  return { own, root, packageName };
}

const messagesOf = (namespace: protobuf.NamespaceBase): protobuf.Type[] =>
  namespace.nestedArray.filter((entry): entry is protobuf.Type => entry instanceof protobuf.Type);

/** Confluent's message indexes of `type` (declared in `own`): its path of positions. */
function indexesOf(type: protobuf.Type, own: protobuf.Namespace): number[] {
  const path: number[] = [];
  let current: protobuf.ReflectionObject = type;
  while (current.parent !== null && current !== own) {
    const parent: protobuf.Namespace = current.parent;
    path.unshift(messagesOf(parent).indexOf(current as protobuf.Type));
    current = parent;
  }
  return path;
}

function writeVarint(out: number[], value: number): void {
  let rest = value;
  while (rest > 0x7f) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
}

/** The index prefix: `[0]` is written as the single byte 0 (Confluent's shortcut). */
export function encodeMessageIndexes(indexes: readonly number[]): Uint8Array {
  if (indexes.length === 1 && indexes[0] === 0) return Uint8Array.of(0);
  const out: number[] = [];
  // Zig-zag varints, as Confluent writes them.
  writeVarint(out, indexes.length * 2);
  for (const index of indexes) writeVarint(out, index * 2);
  return Uint8Array.from(out);
}

function readVarint(bytes: Uint8Array, start: number): [number, number] {
  let value = 0;
  let shift = 0;
  let offset = start;
  for (;;) {
    const byte = bytes[offset];
    if (byte === undefined || shift > 28)
      throw new SerializationError('Truncated Protobuf message index');
    offset += 1;
    value |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
  }
  return [(value >>> 1) ^ -(value & 1), offset];
}

/** Reads the index prefix; returns the indexes and where the message starts. */
export function decodeMessageIndexes(bytes: Uint8Array): [number[], number] {
  let [count, offset] = readVarint(bytes, 0);
  if (count === 0) return [[0], offset];
  const indexes: number[] = [];
  for (; count > 0; count -= 1) {
    let index: number;
    [index, offset] = readVarint(bytes, offset);
    indexes.push(index);
  }
  return [indexes, offset];
}

function typeAt(indexes: readonly number[], own: protobuf.Namespace): protobuf.Type | undefined {
  let namespace: protobuf.NamespaceBase = own;
  let found: protobuf.Type | undefined;
  for (const index of indexes) {
    found = messagesOf(namespace)[index];
    if (found === undefined) return undefined;
    namespace = found;
  }
  return found;
}

/**
 * The Protobuf codec. The event's message is the one `recordName` names (full name, or
 * relative to the file's package), else the file's first message.
 */
export function createProtobufCodec(): SchemaCodec {
  return {
    format: 'PROTOBUF',
    compile(schema: RegistrySchema, options: CompileOptions = {}): CompiledSchema {
      let file: ParsedFile;
      let own: protobuf.Type;
      try {
        file = parseFile(
          schema.schema,
          new Map(
            (options.references ?? []).map((reference) => [reference.name, reference.schema]),
          ),
        );
        const named =
          options.recordName === undefined
            ? undefined
            : [options.recordName, `${file.packageName}.${options.recordName}`]
                .map((name) => file.own.root.lookup(name))
                .find((found): found is protobuf.Type => found instanceof protobuf.Type);
        const first = named ?? messagesOf(file.own)[0];
        if (first === undefined) throw new Error('no message declared');
        own = first;
      } catch (error) {
        if (error instanceof SchemaReferenceMissingError) throw error;
        throw new InvalidSchemaError(
          `Protobuf schema does not parse: ${error instanceof Error ? error.message : String(error)}`,
          error,
        );
      }
      const resolved = (type: protobuf.Type): protobuf.Type => file.root.lookupType(type.fullName);
      const type = resolved(own);
      const prefix = encodeMessageIndexes(indexesOf(own, file.own));
      const validate = (payload: unknown): PayloadIssue[] => [
        ...fromProto3Json(type, payload).issues,
      ];
      return {
        format: 'PROTOBUF',
        validate,
        encode(payload: unknown): Uint8Array {
          const { value, issues } = fromProto3Json(type, payload);
          if (issues.length > 0) {
            throw new SerializationError(
              `Payload does not fit its Protobuf schema: ${issues.map((issue) => `${issue.path || '/'} ${issue.message}`).join('; ')}`,
            );
          }
          const body = type.encode(type.fromObject(value)).finish();
          const out = new Uint8Array(prefix.byteLength + body.byteLength);
          out.set(prefix, 0);
          out.set(body, prefix.byteLength);
          return out;
        },
        decode(bytes: Uint8Array): unknown {
          try {
            const [indexes, offset] = decodeMessageIndexes(bytes);
            const declared = typeAt(indexes, file.own);
            if (declared === undefined) {
              throw new SerializationError(
                `Protobuf message indexes [${indexes.join(', ')}] name no message of the schema`,
              );
            }
            const target = resolved(declared);
            return toProto3Json(target, target.decode(bytes.subarray(offset)));
          } catch (error) {
            if (error instanceof SerializationError) throw error;
            throw new SerializationError(
              `Protobuf payload (${bytes.byteLength} bytes) does not decode`,
              error,
            );
          }
        },
      };
    },
  };
}
