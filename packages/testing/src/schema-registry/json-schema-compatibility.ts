/**
 * One file on purpose: the walk below is one mutually recursive comparison over every
 * JSON Schema keyword, and its cases share the node types and the difference classifier.
 *
 * JSON Schema compatibility, computed the way Apicurio Registry (3.x, behind its
 * Confluent-compatible API) computes it, so the in-memory registry accepts and refuses the
 * same changes as the local stack's registry. The approach is Apicurio's (itself modelled
 * on Confluent's `SchemaDiff`): load both schemas into typed nodes, walk them side by side,
 * and classify every difference as backward compatible or not. BACKWARD = every difference
 * from the old schema to the new one is compatible; FORWARD = the same with the roles
 * swapped; FULL = both.
 *
 * Deliberate consequences, all confirmed against the real registry by the contract suite:
 * - adding a property to an OPEN content model (no `additionalProperties: false`) is a
 *   BACKWARD break, even when it is optional (old data may hold anything under that name);
 * - adding a required property is a break even when it has a default;
 * - schemas without `$schema` are read as draft-04, where `const`, `propertyNames`,
 *   `contains` and `if/then/else` do not exist and are therefore ignored.
 */
import { InvalidSchemaError } from '@tributary/core';

/** One classified difference between two schemas. */
export interface SchemaDifference {
  /** Apicurio's name of the difference, e.g. `SUBSCHEMA_TYPE_CHANGED`. */
  readonly type: string;
  /** JSON-pointer-like location, e.g. `/properties/amount`. */
  readonly path: string;
  /** Whether a reader using the updated schema still reads data written with the original. */
  readonly backwardCompatible: boolean;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

type SchemaNode =
  | { readonly kind: 'empty' }
  | { readonly kind: 'false' }
  | { readonly kind: 'null' }
  | { readonly kind: 'boolean' }
  | {
      readonly kind: 'string';
      readonly minLength?: number | undefined;
      readonly maxLength?: number | undefined;
      readonly pattern?: string | undefined;
      readonly format?: string | undefined;
    }
  | {
      readonly kind: 'number';
      readonly integer: boolean;
      readonly minimum?: number | undefined;
      readonly maximum?: number | undefined;
      readonly exclusiveMinimumFlag: boolean;
      readonly exclusiveMaximumFlag: boolean;
      readonly exclusiveMinimum?: number | undefined;
      readonly exclusiveMaximum?: number | undefined;
      readonly multipleOf?: number | undefined;
    }
  | {
      readonly kind: 'array';
      readonly items?: SchemaNode | undefined;
      readonly minItems?: number | undefined;
      readonly maxItems?: number | undefined;
      readonly uniqueItems: boolean;
    }
  | {
      readonly kind: 'object';
      readonly properties: ReadonlyMap<string, SchemaNode>;
      readonly required: ReadonlySet<string>;
      readonly permitsAdditional: boolean;
      readonly additionalSchema?: SchemaNode | undefined;
      readonly minProperties?: number | undefined;
      readonly maxProperties?: number | undefined;
      readonly dependencies: ReadonlyMap<string, ReadonlySet<string>>;
      readonly patternProperties: ReadonlyMap<string, SchemaNode>;
      readonly propertyNames?: SchemaNode | undefined;
    }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'const'; readonly value: string }
  | {
      readonly kind: 'combined';
      readonly criterion: 'allOf' | 'anyOf' | 'oneOf';
      readonly subschemas: readonly SchemaNode[];
    }
  | { readonly kind: 'not'; readonly schema: SchemaNode };

// `ref` nodes are resolved lazily (a getter), which keeps recursive schemas finite.
type LazyNode = SchemaNode & { readonly lazy?: true };

const OBJECT_KEYWORDS = [
  'properties',
  'required',
  'additionalProperties',
  'minProperties',
  'maxProperties',
  'dependencies',
  'patternProperties',
];
const ARRAY_KEYWORDS = ['items', 'minItems', 'maxItems', 'uniqueItems', 'additionalItems'];
const STRING_KEYWORDS = ['minLength', 'maxLength', 'pattern', 'format'];
const NUMBER_KEYWORDS = [
  'minimum',
  'maximum',
  'multipleOf',
  'exclusiveMinimum',
  'exclusiveMaximum',
];

const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );

class Loader {
  readonly #root: Json;
  readonly #draft: 4 | 6 | 7;
  readonly #memo = new Map<object, SchemaNode>();

  constructor(root: Json) {
    this.#root = root;
    const dialect =
      typeof root === 'object' && root !== null && !Array.isArray(root) ? root.$schema : undefined;
    this.#draft =
      typeof dialect === 'string' && dialect.includes('draft-06')
        ? 6
        : typeof dialect === 'string' && /draft-07|2019-09|2020-12/.test(dialect)
          ? 7
          : 4;
  }

  load(node: Json, path: string): SchemaNode {
    if (node === true) return { kind: 'empty' };
    if (node === false) return { kind: 'false' };
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      throw new InvalidSchemaError(`JSON Schema at ${path || '/'} is not an object or a boolean`);
    }
    const memo = this.#memo.get(node);
    if (memo !== undefined) return memo;
    if (typeof node.$ref === 'string') return this.#reference(node, node.$ref, path);
    const parts: SchemaNode[] = [];
    if (Array.isArray(node.enum)) parts.push({ kind: 'enum', values: node.enum.map(canonical) });
    if (this.#draft >= 6 && 'const' in node)
      parts.push({ kind: 'const', value: canonical(node.const) });
    for (const criterion of ['allOf', 'anyOf', 'oneOf'] as const) {
      const list = node[criterion];
      if (Array.isArray(list)) {
        parts.push({
          kind: 'combined',
          criterion,
          subschemas: list.map((sub, index) => this.load(sub, `${path}/${criterion}/${index}`)),
        });
      }
    }
    if (node.not !== undefined)
      parts.push({ kind: 'not', schema: this.load(node.not, `${path}/not`) });
    const typed = this.#typed(node, path);
    if (typed !== undefined) parts.push(typed);
    const result: SchemaNode =
      parts.length === 0
        ? { kind: 'empty' }
        : parts.length === 1
          ? (parts[0] as SchemaNode)
          : { kind: 'combined', criterion: 'allOf', subschemas: parts };
    this.#memo.set(node, result);
    return result;
  }

  #reference(node: JsonObject, ref: string, path: string): SchemaNode {
    if (!ref.startsWith('#')) {
      throw new InvalidSchemaError(`Reference ${ref} at ${path || '/'} is not local to the schema`);
    }
    let target: Json = this.#root;
    for (const raw of ref
      .slice(1)
      .split('/')
      .filter((segment) => segment !== '')) {
      const segment = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
      if (typeof target !== 'object' || target === null) {
        target = undefined as unknown as Json;
        break;
      }
      target = (target as Record<string, Json>)[segment] as Json;
    }
    if (target === undefined) {
      throw new InvalidSchemaError(`Reference ${ref} at ${path || '/'} points nowhere`);
    }
    // A placeholder breaks reference cycles: the getter loads the target on first use.
    const resolved = target;
    const loadTarget = (): SchemaNode => this.load(resolved, ref);
    let loaded: SchemaNode | undefined;
    const lazy = new Proxy({} as LazyNode, {
      get(_object, property) {
        loaded ??= loadTarget();
        return (loaded as unknown as Record<string | symbol, unknown>)[property];
      },
    });
    this.#memo.set(node, lazy);
    return lazy;
  }

  #typed(node: JsonObject, path: string): SchemaNode | undefined {
    const type = node.type;
    if (typeof type === 'string') return this.#ofType(type, node, path);
    if (Array.isArray(type)) {
      const types = type.filter((entry): entry is string => typeof entry === 'string');
      if (types.length === 1) return this.#ofType(types[0] as string, node, path);
      return {
        kind: 'combined',
        criterion: 'anyOf',
        subschemas: types.map((entry) => this.#ofType(entry, node, path)),
      };
    }
    // No `type`: the keywords present say which kinds of value are constrained.
    const kinds: string[] = [];
    if (OBJECT_KEYWORDS.some((key) => key in node)) kinds.push('object');
    if (ARRAY_KEYWORDS.some((key) => key in node)) kinds.push('array');
    if (STRING_KEYWORDS.some((key) => key in node)) kinds.push('string');
    if (NUMBER_KEYWORDS.some((key) => key in node)) kinds.push('number');
    if (kinds.length === 0) return undefined;
    if (kinds.length === 1) return this.#ofType(kinds[0] as string, node, path);
    return {
      kind: 'combined',
      criterion: 'anyOf',
      subschemas: kinds.map((kind) => this.#ofType(kind, node, path)),
    };
  }

  #ofType(type: string, node: JsonObject, path: string): SchemaNode {
    const num = (key: string): number | undefined =>
      typeof node[key] === 'number' ? node[key] : undefined;
    const text = (key: string): string | undefined =>
      typeof node[key] === 'string' ? node[key] : undefined;
    const optional = <T extends object>(entries: T): T =>
      Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)) as T;
    switch (type) {
      case 'null':
        return { kind: 'null' };
      case 'boolean':
        return { kind: 'boolean' };
      case 'string':
        return optional({
          kind: 'string' as const,
          minLength: num('minLength'),
          maxLength: num('maxLength'),
          pattern: text('pattern'),
          format: text('format'),
        });
      case 'integer':
      case 'number': {
        const exclusiveMinimum = node.exclusiveMinimum;
        const exclusiveMaximum = node.exclusiveMaximum;
        if (
          this.#draft === 4 &&
          (typeof exclusiveMinimum === 'number' || typeof exclusiveMaximum === 'number')
        ) {
          // What the real registry answers, too: draft-04 wants booleans here.
          throw new InvalidSchemaError(
            `${path}/exclusiveMinimum: expected a boolean in a draft-04 schema (declare "$schema" draft-07 for numeric bounds)`,
          );
        }
        return optional({
          kind: 'number' as const,
          integer: type === 'integer',
          minimum: num('minimum'),
          maximum: num('maximum'),
          exclusiveMinimumFlag: exclusiveMinimum === true,
          exclusiveMaximumFlag: exclusiveMaximum === true,
          exclusiveMinimum: typeof exclusiveMinimum === 'number' ? exclusiveMinimum : undefined,
          exclusiveMaximum: typeof exclusiveMaximum === 'number' ? exclusiveMaximum : undefined,
          multipleOf: num('multipleOf'),
        });
      }
      case 'array': {
        const items = node.items;
        return optional({
          kind: 'array' as const,
          items:
            items === undefined || Array.isArray(items)
              ? undefined
              : this.load(items, `${path}/items`),
          minItems: num('minItems'),
          maxItems: num('maxItems'),
          uniqueItems: node.uniqueItems === true,
        });
      }
      case 'object': {
        const properties = new Map<string, SchemaNode>();
        const declared = node.properties;
        if (typeof declared === 'object' && declared !== null && !Array.isArray(declared)) {
          for (const [name, schema] of Object.entries(declared)) {
            properties.set(name, this.load(schema, `${path}/properties/${name}`));
          }
        }
        const patternProperties = new Map<string, SchemaNode>();
        const patterns = node.patternProperties;
        if (typeof patterns === 'object' && patterns !== null && !Array.isArray(patterns)) {
          for (const [pattern, schema] of Object.entries(patterns)) {
            patternProperties.set(
              pattern,
              this.load(schema, `${path}/patternProperties/${pattern}`),
            );
          }
        }
        const dependencies = new Map<string, ReadonlySet<string>>();
        const deps = node.dependencies;
        if (typeof deps === 'object' && deps !== null && !Array.isArray(deps)) {
          for (const [name, value] of Object.entries(deps)) {
            if (Array.isArray(value)) dependencies.set(name, new Set(value.map(String)));
          }
        }
        const additional = node.additionalProperties;
        return optional({
          kind: 'object' as const,
          properties,
          required: new Set(Array.isArray(node.required) ? node.required.map(String) : []),
          permitsAdditional: additional !== false,
          additionalSchema:
            typeof additional === 'object' && additional !== null
              ? this.load(additional, `${path}/additionalProperties`)
              : undefined,
          minProperties: num('minProperties'),
          maxProperties: num('maxProperties'),
          dependencies,
          patternProperties,
          propertyNames:
            this.#draft >= 6 && node.propertyNames !== undefined
              ? this.load(node.propertyNames, `${path}/propertyNames`)
              : undefined,
        });
      }
      default:
        throw new InvalidSchemaError(
          `Unknown JSON Schema type ${JSON.stringify(type)} at ${path || '/'}`,
        );
    }
  }
}

class DiffContext {
  readonly differences: SchemaDifference[] = [];
  readonly #visited: Set<string>;
  readonly #ids: WeakMap<object, number>;
  #nextId = { value: 0 };

  constructor(
    visited = new Set<string>(),
    ids = new WeakMap<object, number>(),
    nextId = { value: 0 },
  ) {
    this.#visited = visited;
    this.#ids = ids;
    this.#nextId = nextId;
  }

  add(type: string, path: string, backwardCompatible: boolean): void {
    this.differences.push({ type, path: path === '' ? '/' : path, backwardCompatible });
  }

  /** A fresh context for a nested question that shares the cycle guard. */
  root(): DiffContext {
    return new DiffContext(this.#visited, this.#ids, this.#nextId);
  }

  /** False when this pair is already being compared higher up (a recursive schema). */
  enter(original: SchemaNode, updated: SchemaNode, path: string): boolean {
    const key = `${this.#id(original)}:${this.#id(updated)}:${path}`;
    if (this.#visited.has(key)) return false;
    this.#visited.add(key);
    return true;
  }

  get allCompatible(): boolean {
    return this.differences.every((difference) => difference.backwardCompatible);
  }

  #id(node: object): number {
    let id = this.#ids.get(node);
    if (id === undefined) {
      id = this.#nextId.value += 1;
      this.#ids.set(node, id);
    }
    return id;
  }
}

function isCompatible(context: DiffContext, original: SchemaNode, updated: SchemaNode): boolean {
  const nested = context.root();
  diff(nested, original, updated, '');
  return nested.allCompatible;
}

function diffInteger(
  context: DiffContext,
  path: string,
  original: number | undefined,
  updated: number | undefined,
  name: string,
  compatible: { added: boolean; removed: boolean; increased: boolean; decreased: boolean },
): void {
  if (original === undefined && updated === undefined) return;
  if (original === undefined) context.add(`${name}_ADDED`, path, compatible.added);
  else if (updated === undefined) context.add(`${name}_REMOVED`, path, compatible.removed);
  else if (original < updated) context.add(`${name}_INCREASED`, path, compatible.increased);
  else if (original > updated) context.add(`${name}_DECREASED`, path, compatible.decreased);
}

const LOWER_BOUND = { added: false, removed: true, increased: false, decreased: true };
const UPPER_BOUND = { added: false, removed: true, increased: true, decreased: false };

function diffSet(
  context: DiffContext,
  path: string,
  original: ReadonlySet<string>,
  updated: ReadonlySet<string>,
  name: string,
  memberAddedCompatible: boolean,
  memberRemovedCompatible: boolean,
): void {
  for (const member of original) {
    if (!updated.has(member))
      context.add(`${name}_MEMBER_REMOVED`, `${path}/${member}`, memberRemovedCompatible);
  }
  for (const member of updated) {
    if (!original.has(member))
      context.add(`${name}_MEMBER_ADDED`, `${path}/${member}`, memberAddedCompatible);
  }
}

function diffOptionalText(
  context: DiffContext,
  path: string,
  original: string | undefined,
  updated: string | undefined,
  name: string,
): void {
  if (original === updated) return;
  if (original === undefined) context.add(`${name}_ADDED`, path, false);
  else if (updated === undefined) context.add(`${name}_REMOVED`, path, true);
  else context.add(`${name}_CHANGED`, path, false);
}

/** An `allOf` original holding exactly one subschema of the updated kind stands for it (enum + type). */
function compatibleSubschemaOrOriginal(original: SchemaNode, updated: SchemaNode): SchemaNode {
  if (original.kind === 'combined' && original.criterion === 'allOf') {
    const sameKind = original.subschemas.filter((sub) => sub.kind === updated.kind);
    if (sameKind.length === 1) return sameKind[0] as SchemaNode;
  }
  return original;
}

function diff(context: DiffContext, original: SchemaNode, updated: SchemaNode, path: string): void {
  if (!context.enter(original, updated, path)) return;
  if (updated.kind === 'empty') {
    if (original.kind !== 'empty')
      context.add('SUBSCHEMA_TYPE_CHANGED_TO_EMPTY_OR_TRUE', path, true);
    return;
  }
  let base = original;
  if (updated.kind === 'string' || updated.kind === 'number' || updated.kind === 'boolean') {
    base = compatibleSubschemaOrOriginal(original, updated);
  }
  if (base.kind === 'false') return; // matches nothing: nothing was ever written with it
  if (updated.kind === 'enum' && base.kind === 'const')
    base = { kind: 'enum', values: [base.value] };
  if (updated.kind === 'const' && base.kind === 'enum' && base.values.length === 1) {
    base = { kind: 'const', value: base.values[0] as string };
  }
  if (base.kind !== updated.kind) {
    context.add('SUBSCHEMA_TYPE_CHANGED', path, false);
    return;
  }
  switch (updated.kind) {
    case 'null':
    case 'boolean':
      return;
    case 'string':
      diffString(context, base as typeof updated, updated, path);
      return;
    case 'number':
      diffNumber(context, base as typeof updated, updated, path);
      return;
    case 'array':
      diffArray(context, base as typeof updated, updated, path);
      return;
    case 'object':
      diffObject(context, base as typeof updated, updated, path);
      return;
    case 'enum': {
      const before = new Set((base as typeof updated).values);
      diffSet(
        context,
        `${path}/enum`,
        before,
        new Set(updated.values),
        'ENUM_TYPE_VALUES',
        true,
        false,
      );
      return;
    }
    case 'const':
      if ((base as typeof updated).value !== updated.value) {
        context.add('CONST_TYPE_VALUE_CHANGED', `${path}/const`, false);
      }
      return;
    case 'combined':
      diffCombined(context, base as typeof updated, updated, path);
      return;
    case 'not': {
      // `not A` widens when A narrows: compatible when the new inner schema reads the old.
      const forward = isCompatible(context, updated.schema, (base as typeof updated).schema);
      context.add(
        forward ? 'NOT_TYPE_SCHEMA_COMPATIBLE' : 'NOT_TYPE_SCHEMA_COMPATIBLE_NONE',
        `${path}/not`,
        forward,
      );
      return;
    }
  }
}

type Of<K extends SchemaNode['kind']> = Extract<SchemaNode, { kind: K }>;

function diffString(
  context: DiffContext,
  original: Of<'string'>,
  updated: Of<'string'>,
  path: string,
): void {
  diffInteger(
    context,
    `${path}/minLength`,
    original.minLength,
    updated.minLength,
    'STRING_TYPE_MIN_LENGTH',
    LOWER_BOUND,
  );
  diffInteger(
    context,
    `${path}/maxLength`,
    original.maxLength,
    updated.maxLength,
    'STRING_TYPE_MAX_LENGTH',
    UPPER_BOUND,
  );
  diffOptionalText(
    context,
    `${path}/pattern`,
    original.pattern,
    updated.pattern,
    'STRING_TYPE_PATTERN',
  );
  diffOptionalText(
    context,
    `${path}/format`,
    original.format,
    updated.format,
    'STRING_TYPE_FORMAT',
  );
}

function diffNumber(
  context: DiffContext,
  original: Of<'number'>,
  updated: Of<'number'>,
  path: string,
): void {
  diffInteger(
    context,
    `${path}/minimum`,
    original.minimum,
    updated.minimum,
    'NUMBER_TYPE_MINIMUM',
    LOWER_BOUND,
  );
  diffInteger(
    context,
    `${path}/maximum`,
    original.maximum,
    updated.maximum,
    'NUMBER_TYPE_MAXIMUM',
    UPPER_BOUND,
  );
  diffInteger(
    context,
    `${path}/exclusiveMinimum`,
    original.exclusiveMinimum,
    updated.exclusiveMinimum,
    'NUMBER_TYPE_EXCLUSIVE_MINIMUM',
    LOWER_BOUND,
  );
  diffInteger(
    context,
    `${path}/exclusiveMaximum`,
    original.exclusiveMaximum,
    updated.exclusiveMaximum,
    'NUMBER_TYPE_EXCLUSIVE_MAXIMUM',
    UPPER_BOUND,
  );
  if (!original.exclusiveMinimumFlag && updated.exclusiveMinimumFlag) {
    context.add(
      'NUMBER_TYPE_IS_MINIMUM_EXCLUSIVE_FALSE_TO_TRUE',
      `${path}/exclusiveMinimum`,
      false,
    );
  }
  if (!original.exclusiveMaximumFlag && updated.exclusiveMaximumFlag) {
    context.add(
      'NUMBER_TYPE_IS_MAXIMUM_EXCLUSIVE_FALSE_TO_TRUE',
      `${path}/exclusiveMaximum`,
      false,
    );
  }
  if (original.multipleOf === undefined && updated.multipleOf !== undefined) {
    context.add('NUMBER_TYPE_MULTIPLE_OF_ADDED', `${path}/multipleOf`, false);
  } else if (original.multipleOf !== undefined && updated.multipleOf !== undefined) {
    // Still compatible when every old value is a multiple of the new step.
    const divisible = original.multipleOf % updated.multipleOf === 0;
    if (original.multipleOf !== updated.multipleOf && !divisible) {
      context.add('NUMBER_TYPE_MULTIPLE_OF_UPDATED_IS_NOT_DIVISIBLE', `${path}/multipleOf`, false);
    }
  }
  if (!original.integer && updated.integer) {
    context.add('NUMBER_TYPE_INTEGER_REQUIRED_FALSE_TO_TRUE', `${path}/type`, false);
  }
}

function diffArray(
  context: DiffContext,
  original: Of<'array'>,
  updated: Of<'array'>,
  path: string,
): void {
  diffInteger(
    context,
    `${path}/minItems`,
    original.minItems,
    updated.minItems,
    'ARRAY_TYPE_MIN_ITEMS',
    LOWER_BOUND,
  );
  diffInteger(
    context,
    `${path}/maxItems`,
    original.maxItems,
    updated.maxItems,
    'ARRAY_TYPE_MAX_ITEMS',
    UPPER_BOUND,
  );
  if (!original.uniqueItems && updated.uniqueItems) {
    context.add('ARRAY_TYPE_UNIQUE_ITEMS_FALSE_TO_TRUE', `${path}/uniqueItems`, false);
  }
  if (original.items === undefined && updated.items !== undefined) {
    context.add('ARRAY_TYPE_ALL_ITEM_SCHEMA_ADDED', `${path}/items`, false);
  } else if (original.items !== undefined && updated.items === undefined) {
    context.add('ARRAY_TYPE_ALL_ITEM_SCHEMA_REMOVED', `${path}/items`, true);
  } else if (original.items !== undefined && updated.items !== undefined) {
    diff(context, original.items, updated.items, `${path}/items`);
  }
}

function allCompatible(
  context: DiffContext,
  schemas: readonly SchemaNode[],
  target: SchemaNode,
  backward: boolean,
): boolean {
  return schemas.every((schema) =>
    backward ? isCompatible(context, schema, target) : isCompatible(context, target, schema),
  );
}

function diffObject(
  context: DiffContext,
  original: Of<'object'>,
  updated: Of<'object'>,
  path: string,
): void {
  diffSet(
    context,
    `${path}/required`,
    original.required,
    updated.required,
    'OBJECT_TYPE_REQUIRED_PROPERTIES',
    false,
    true,
  );
  if (original.propertyNames === undefined && updated.propertyNames !== undefined) {
    context.add('OBJECT_TYPE_PROPERTY_SCHEMA_ADDED', `${path}/propertyNames`, false);
  } else if (original.propertyNames !== undefined && updated.propertyNames !== undefined) {
    diff(context, original.propertyNames, updated.propertyNames, `${path}/propertyNames`);
  }
  diffInteger(
    context,
    `${path}/minProperties`,
    original.minProperties,
    updated.minProperties,
    'OBJECT_TYPE_MIN_PROPERTIES',
    LOWER_BOUND,
  );
  diffInteger(
    context,
    `${path}/maxProperties`,
    original.maxProperties,
    updated.maxProperties,
    'OBJECT_TYPE_MAX_PROPERTIES',
    UPPER_BOUND,
  );
  diffSet(
    context,
    `${path}/dependencies`,
    new Set(original.dependencies.keys()),
    new Set(updated.dependencies.keys()),
    'OBJECT_TYPE_PROPERTY_DEPENDENCIES_KEYS',
    false,
    true,
  );
  for (const [name, members] of updated.dependencies) {
    const before = original.dependencies.get(name);
    if (before !== undefined) {
      diffSet(
        context,
        `${path}/dependencies/${name}`,
        before,
        members,
        'OBJECT_TYPE_PROPERTY_DEPENDENCIES_VALUE',
        false,
        true,
      );
    }
  }
  if (original.permitsAdditional && !updated.permitsAdditional) {
    context.add(
      'OBJECT_TYPE_ADDITIONAL_PROPERTIES_TRUE_TO_FALSE',
      `${path}/additionalProperties`,
      false,
    );
  } else if (original.permitsAdditional && updated.permitsAdditional) {
    const before = original.additionalSchema;
    const after = updated.additionalSchema;
    const at = `${path}/additionalProperties`;
    if (before !== undefined && after === undefined)
      context.add('OBJECT_TYPE_ADDITIONAL_PROPERTIES_EXTENDED', at, true);
    else if (before === undefined && after !== undefined)
      context.add('OBJECT_TYPE_ADDITIONAL_PROPERTIES_NARROWED', at, false);
    else if (before !== undefined && after !== undefined) {
      const backward = isCompatible(context, before, after);
      const forward = isCompatible(context, after, before);
      if (!backward) {
        context.add(
          forward
            ? 'OBJECT_TYPE_ADDITIONAL_PROPERTIES_NARROWED'
            : 'OBJECT_TYPE_ADDITIONAL_PROPERTIES_SCHEMA_CHANGED',
          at,
          false,
        );
      }
    }
  }
  diffSet(
    context,
    `${path}/patternProperties`,
    new Set(original.patternProperties.keys()),
    new Set(updated.patternProperties.keys()),
    'OBJECT_TYPE_PATTERN_PROPERTY_KEYS',
    false,
    true,
  );
  for (const [pattern, schema] of updated.patternProperties) {
    const before = original.patternProperties.get(pattern);
    if (before !== undefined) diff(context, before, schema, `${path}/patternProperties/${pattern}`);
  }

  const added: SchemaNode[] = [];
  const removed: SchemaNode[] = [];
  for (const [name, schema] of updated.properties) {
    const before = original.properties.get(name);
    if (before === undefined) {
      added.push(schema);
      continue;
    }
    // The registry compares a plain string property with a type union by wrapping the
    // string in an anyOf, so making a string nullable stays compatible (only strings).
    const comparable: SchemaNode =
      before.kind === 'string' && schema.kind === 'combined'
        ? { kind: 'combined', criterion: 'anyOf', subschemas: [before] }
        : before;
    diff(context, comparable, schema, `${path}/properties/${name}`);
  }
  for (const [name, schema] of original.properties) {
    if (!updated.properties.has(name)) removed.push(schema);
  }
  const at = `${path}/properties`;
  if (added.length > 0) {
    if (!original.permitsAdditional) {
      context.add('OBJECT_TYPE_PROPERTY_SCHEMAS_EXTENDED', at, true);
    } else if (original.additionalSchema === undefined) {
      // The old schema let any value through under the new name: old data may not fit it.
      context.add('OBJECT_TYPE_PROPERTY_SCHEMAS_NARROWED', at, false);
    } else if (
      !updated.permitsAdditional &&
      allCompatible(context, added, original.additionalSchema, false)
    ) {
      context.add('OBJECT_TYPE_PROPERTY_SCHEMAS_NARROWED', at, false);
    } else if (
      updated.permitsAdditional &&
      allCompatible(context, added, original.additionalSchema, true)
    ) {
      context.add('OBJECT_TYPE_PROPERTY_SCHEMAS_EXTENDED', at, true);
    } else {
      context.add('OBJECT_TYPE_PROPERTY_SCHEMAS_CHANGED', at, false);
    }
  }
  if (removed.length > 0) {
    if (!updated.permitsAdditional) {
      context.add('OBJECT_TYPE_PROPERTY_SCHEMAS_NARROWED', at, false);
    } else if (updated.additionalSchema === undefined) {
      context.add('OBJECT_TYPE_PROPERTY_SCHEMAS_EXTENDED', at, true);
    } else if (allCompatible(context, removed, updated.additionalSchema, true)) {
      context.add(
        'OBJECT_TYPE_PROPERTY_SCHEMAS_NARROWED_COMPATIBLE_WITH_ADDITIONAL_PROPERTIES',
        at,
        true,
      );
    } else {
      context.add('OBJECT_TYPE_PROPERTY_SCHEMAS_CHANGED', at, false);
    }
  }
}

function diffCombined(
  context: DiffContext,
  original: Of<'combined'>,
  updated: Of<'combined'>,
  path: string,
): void {
  if (original.criterion !== updated.criterion) {
    if (updated.criterion === 'anyOf') context.add('COMBINED_TYPE_CRITERION_EXTENDED', path, true);
    else if (original.criterion === 'anyOf')
      context.add('COMBINED_TYPE_CRITERION_NARROWED', path, false);
    else context.add('COMBINED_TYPE_CRITERION_CHANGED', path, false);
    return;
  }
  const before = original.subschemas;
  const after = updated.subschemas;
  const name = `COMBINED_TYPE_${original.criterion === 'allOf' ? 'ALL_OF' : original.criterion === 'anyOf' ? 'ANY_OF' : 'ONE_OF'}`;
  // More alternatives widen anyOf/oneOf; more conjuncts narrow allOf.
  if (after.length > before.length)
    context.add(`${name}_SIZE_INCREASED`, path, original.criterion !== 'allOf');
  if (after.length < before.length)
    context.add(`${name}_SIZE_DECREASED`, path, original.criterion === 'allOf');
  if (before.length > after.length) return;
  // Match every old subschema with a distinct new one that reads it, most constrained first.
  const candidates = new Map<number, Set<number>>();
  before.forEach((old, i) => {
    const set = new Set<number>();
    after.forEach((next, j) => {
      if (isCompatible(context, old, next)) set.add(j);
    });
    candidates.set(i, set);
  });
  while (candidates.size > 0) {
    let pick: [number, Set<number>] | undefined;
    for (const entry of candidates)
      if (pick === undefined || entry[1].size < pick[1].size) pick = entry;
    const [index, set] = pick as [number, Set<number>];
    const first = set.values().next();
    if (first.done === true) {
      context.add('COMBINED_TYPE_SUBSCHEMA_NOT_COMPATIBLE', `${path}/${index}`, false);
    } else {
      for (const other of candidates.values()) other.delete(first.value);
    }
    if (set.size === 0) candidates.delete(index);
  }
}

function load(text: string): SchemaNode {
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch (error) {
    throw new InvalidSchemaError('JSON Schema text is not valid JSON', error);
  }
  return new Loader(parsed).load(parsed, '');
}

/**
 * Every difference from `original` to `updated`, each classified as backward compatible or
 * not (read "can a reader with `updated` read data written with `original`?").
 *
 * @throws InvalidSchemaError when either text is not a usable JSON Schema.
 */
export function jsonSchemaDifferences(original: string, updated: string): SchemaDifference[] {
  const context = new DiffContext();
  diff(context, load(original), load(updated), '');
  return context.differences;
}

/**
 * The incompatible differences that make `updated` unable to read data written with
 * `original` (empty = backward compatible), formatted like the registry's messages.
 */
export function jsonSchemaBackwardBreaks(original: string, updated: string): string[] {
  return jsonSchemaDifferences(original, updated)
    .filter((difference) => !difference.backwardCompatible)
    .map((difference) => `${difference.type} at ${difference.path}`);
}
