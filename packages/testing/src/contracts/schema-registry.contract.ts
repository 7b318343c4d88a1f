/**
 * The schema registry contract suite, run against the in-memory registry and the real one.
 * One file on purpose: most of its length is the table of compatibility cases, which both
 * registries must decide the same way; splitting it would hide which cases the suite covers.
 */
import {
  IncompatibleSchemaError,
  isTributaryError,
  type CompatibilityMode,
  type RegistrySchema,
  type SchemaFormat,
  type SchemaRegistry,
} from '@tributary/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** What the schema registry contract suite needs from the registry under test. */
export interface SchemaRegistryFixture {
  readonly registry: SchemaRegistry;
  /** A subject name no other test (or test file) uses, e.g. namespaced per run. */
  readonly subject: (name: string) => string;
  readonly teardown?: () => Promise<void>;
}

/** One schema change and whether each mode accepts it. */
export interface CompatibilityCase {
  readonly name: string;
  readonly format: SchemaFormat;
  readonly from: object;
  readonly to: object;
  /** Expected answers, as the local stack's Apicurio Registry 3.0.9 gives them. */
  readonly expected: Readonly<Record<'BACKWARD' | 'FORWARD' | 'FULL', boolean>>;
}

const S = { type: 'string' };
const I = { type: 'integer' };
const N = { type: 'number' };
const obj = (properties: object, required: string[] = [], extra: object = {}): object => ({
  type: 'object',
  properties,
  required,
  ...extra,
});
const closed = { additionalProperties: false };
const draft7 = 'http://json-schema.org/draft-07/schema#';
const both = (backward: boolean, forward: boolean) => ({
  BACKWARD: backward,
  FORWARD: forward,
  FULL: backward && forward,
});

/**
 * JSON Schema (and Avro) changes with the answers of the real registry. Both registries
 * must give exactly these answers; a case where they differ is a bug in the in-memory one.
 */
export const compatibilityCases: readonly CompatibilityCase[] = [
  {
    name: 'identical schema',
    format: 'JSON',
    from: obj({ a: S }, ['a']),
    to: obj({ a: S }, ['a']),
    expected: both(true, true),
  },
  {
    name: 'optional property added to an open content model',
    format: 'JSON',
    from: obj({ a: S }),
    to: obj({ a: S, b: S }),
    expected: both(false, true),
  },
  {
    name: 'optional property added to a closed content model',
    format: 'JSON',
    from: obj({ a: S }, [], closed),
    to: obj({ a: S, b: S }, [], closed),
    expected: both(true, false),
  },
  {
    name: 'required property added (closed model)',
    format: 'JSON',
    from: obj({ a: S }, [], closed),
    to: obj({ a: S, b: S }, ['b'], closed),
    expected: both(false, false),
  },
  {
    name: 'required property with a default added (closed model)',
    format: 'JSON',
    from: obj({ a: S }, [], closed),
    to: obj({ a: S, b: { type: 'string', default: 'x' } }, ['b'], closed),
    expected: both(false, false),
  },
  {
    name: 'optional property removed from an open model',
    format: 'JSON',
    from: obj({ a: S, b: S }),
    to: obj({ a: S }),
    expected: both(true, false),
  },
  {
    name: 'optional property removed from a closed model',
    format: 'JSON',
    from: obj({ a: S, b: S }, [], closed),
    to: obj({ a: S }, [], closed),
    expected: both(false, true),
  },
  {
    name: 'required property made optional',
    format: 'JSON',
    from: obj({ a: S }, ['a']),
    to: obj({ a: S }),
    expected: both(true, false),
  },
  {
    name: 'optional property made required',
    format: 'JSON',
    from: obj({ a: S }),
    to: obj({ a: S }, ['a']),
    expected: both(false, true),
  },
  {
    name: 'property type changed',
    format: 'JSON',
    from: obj({ a: S }),
    to: obj({ a: I }),
    expected: both(false, false),
  },
  {
    name: 'integer widened to number',
    format: 'JSON',
    from: obj({ a: I }),
    to: obj({ a: N }),
    expected: both(true, false),
  },
  {
    name: 'number narrowed to integer',
    format: 'JSON',
    from: obj({ a: N }),
    to: obj({ a: I }),
    expected: both(false, true),
  },
  {
    name: 'enum value added',
    format: 'JSON',
    from: obj({ a: { type: 'string', enum: ['x'] } }),
    to: obj({ a: { type: 'string', enum: ['x', 'y'] } }),
    expected: both(true, false),
  },
  {
    name: 'enum value removed',
    format: 'JSON',
    from: obj({ a: { type: 'string', enum: ['x', 'y'] } }),
    to: obj({ a: { type: 'string', enum: ['x'] } }),
    expected: both(false, true),
  },
  {
    name: 'maxLength increased',
    format: 'JSON',
    from: obj({ a: { type: 'string', maxLength: 5 } }),
    to: obj({ a: { type: 'string', maxLength: 10 } }),
    expected: both(true, false),
  },
  {
    name: 'maxLength added',
    format: 'JSON',
    from: obj({ a: S }),
    to: obj({ a: { type: 'string', maxLength: 5 } }),
    expected: both(false, true),
  },
  {
    name: 'minLength added',
    format: 'JSON',
    from: obj({ a: S }),
    to: obj({ a: { type: 'string', minLength: 1 } }),
    expected: both(false, true),
  },
  {
    name: 'content model closed',
    format: 'JSON',
    from: obj({ a: S }),
    to: obj({ a: S }, [], closed),
    expected: both(false, true),
  },
  {
    name: 'content model opened',
    format: 'JSON',
    from: obj({ a: S }, [], closed),
    to: obj({ a: S }),
    expected: both(true, false),
  },
  {
    name: 'nested optional property added to a closed model',
    format: 'JSON',
    from: obj({ n: obj({ a: S }, [], closed) }, [], closed),
    to: obj({ n: obj({ a: S, b: S }, [], closed) }, [], closed),
    expected: both(true, false),
  },
  {
    name: 'nested property type changed',
    format: 'JSON',
    from: obj({ n: obj({ a: S }) }),
    to: obj({ n: obj({ a: I }) }),
    expected: both(false, false),
  },
  {
    name: 'description changed',
    format: 'JSON',
    from: obj({ a: { type: 'string', description: 'x' } }),
    to: obj({ a: { type: 'string', description: 'y' } }),
    expected: both(true, true),
  },
  {
    name: 'minimum increased',
    format: 'JSON',
    from: obj({ a: { type: 'integer', minimum: 0 } }),
    to: obj({ a: { type: 'integer', minimum: 5 } }),
    expected: both(false, true),
  },
  {
    name: 'string made nullable',
    format: 'JSON',
    from: obj({ a: S }),
    to: obj({ a: { type: ['string', 'null'] } }),
    expected: both(true, false),
  },
  {
    name: 'integer made nullable (the registry only widens strings this way)',
    format: 'JSON',
    from: obj({ a: I }),
    to: obj({ a: { type: ['integer', 'null'] } }),
    expected: both(false, false),
  },
  {
    name: 'format added',
    format: 'JSON',
    from: obj({ a: S }),
    to: obj({ a: { type: 'string', format: 'date-time' } }),
    expected: both(false, true),
  },
  {
    name: 'pattern changed',
    format: 'JSON',
    from: obj({ a: { type: 'string', pattern: '^x' } }),
    to: obj({ a: { type: 'string', pattern: '^y' } }),
    expected: both(false, false),
  },
  {
    name: 'array item type widened',
    format: 'JSON',
    from: obj({ a: { type: 'array', items: I } }),
    to: obj({ a: { type: 'array', items: N } }),
    expected: both(true, false),
  },
  {
    name: 'maxItems added',
    format: 'JSON',
    from: obj({ a: { type: 'array', items: S } }),
    to: obj({ a: { type: 'array', items: S, maxItems: 3 } }),
    expected: both(false, true),
  },
  {
    name: 'anyOf branch added',
    format: 'JSON',
    from: obj({ a: { anyOf: [S, I] } }),
    to: obj({ a: { anyOf: [S, I, { type: 'boolean' }] } }),
    expected: both(true, false),
  },
  {
    name: 'oneOf branch removed',
    format: 'JSON',
    from: obj({ a: { oneOf: [S, I] } }),
    to: obj({ a: { oneOf: [S] } }),
    expected: both(false, true),
  },
  {
    name: 'const added in a draft-04 schema (unknown keyword there)',
    format: 'JSON',
    from: obj({ a: S }),
    to: obj({ a: { type: 'string', const: 'x' } }),
    expected: both(true, true),
  },
  {
    name: 'property with any value added to an open model',
    format: 'JSON',
    from: obj({ a: S }),
    to: obj({ a: S, b: {} }),
    expected: both(false, true),
  },
  {
    name: 'property matching additionalProperties added',
    format: 'JSON',
    from: obj({ a: S }, [], { additionalProperties: S }),
    to: obj({ a: S, b: S }, [], { additionalProperties: S }),
    expected: both(true, true),
  },
  {
    name: 'referenced definition changed',
    format: 'JSON',
    from: { type: 'object', properties: { a: { $ref: '#/definitions/x' } }, definitions: { x: S } },
    to: { type: 'object', properties: { a: { $ref: '#/definitions/x' } }, definitions: { x: I } },
    expected: both(false, false),
  },
  {
    name: 'property dependency added',
    format: 'JSON',
    from: obj({ a: S, b: S }),
    to: obj({ a: S, b: S }, [], { dependencies: { a: ['b'] } }),
    expected: both(false, true),
  },
  {
    name: 'numeric exclusiveMinimum added in a draft-07 schema',
    format: 'JSON',
    from: { $schema: draft7, ...obj({ a: N }) },
    to: { $schema: draft7, ...obj({ a: { type: 'number', exclusiveMinimum: 0 } }) },
    expected: both(false, true),
  },
  {
    name: 'Avro field with a default added',
    format: 'AVRO',
    from: { type: 'record', name: 'E', fields: [{ name: 'a', type: 'string' }] },
    to: {
      type: 'record',
      name: 'E',
      fields: [
        { name: 'a', type: 'string' },
        { name: 'b', type: 'string', default: '' },
      ],
    },
    expected: both(true, true),
  },
  {
    name: 'Avro field without a default added',
    format: 'AVRO',
    from: { type: 'record', name: 'E', fields: [{ name: 'a', type: 'string' }] },
    to: {
      type: 'record',
      name: 'E',
      fields: [
        { name: 'a', type: 'string' },
        { name: 'b', type: 'string' },
      ],
    },
    expected: both(false, true),
  },
  {
    name: 'Avro int promoted to long',
    format: 'AVRO',
    from: { type: 'record', name: 'E', fields: [{ name: 'a', type: 'int' }] },
    to: { type: 'record', name: 'E', fields: [{ name: 'a', type: 'long' }] },
    expected: both(true, false),
  },
];

const jsonText = (schema: object): RegistrySchema => ({
  format: 'JSON',
  schema: JSON.stringify(schema),
});

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/**
 * The behaviour every {@link SchemaRegistry} must have. `InMemorySchemaRegistry` and
 * `ConfluentSchemaRegistryClient` (against the local stack's Apicurio) both run it, so the
 * in-memory registry used in tests accepts and refuses exactly what the real one does.
 */
export function describeSchemaRegistryContract(
  name: string,
  createFixture: () => Promise<SchemaRegistryFixture>,
): void {
  describe(`SchemaRegistry contract: ${name}`, () => {
    let fixture: SchemaRegistryFixture;
    let registry: SchemaRegistry;

    beforeAll(async () => {
      fixture = await createFixture();
      registry = fixture.registry;
    });
    afterAll(async () => {
      await fixture.teardown?.();
    });

    describe('registering and reading', () => {
      it('registers a schema as version 1 and serves it by id, latest and lookup', async () => {
        const subject = fixture.subject('reg-basic');
        const schema = jsonText(obj({ a: S }));
        const registered = await registry.register(subject, schema);
        expect(registered).toMatchObject({ subject, version: 1 });
        expect(registered.id).toBeGreaterThan(0);
        expect(await registry.getById(registered.id)).toEqual(schema);
        expect((await registry.latest(subject))?.id).toBe(registered.id);
        expect((await registry.lookup(subject, schema))?.version).toBe(1);
        expect(await registry.versions(subject)).toEqual([1]);
        expect(await registry.subjects()).toContain(subject);
      });

      it('registers the same schema again as a no-op with the same id and version', async () => {
        const subject = fixture.subject('reg-idempotent');
        const schema = jsonText(obj({ b: S }));
        const first = await registry.register(subject, schema);
        const again = await registry.register(subject, schema);
        expect(again).toEqual(first);
        expect(await registry.versions(subject)).toEqual([1]);
      });

      it('gives the same content the same id under different subjects', async () => {
        const schema = jsonText(obj({ shared: S }));
        const one = await registry.register(fixture.subject('reg-shared-1'), schema);
        const two = await registry.register(fixture.subject('reg-shared-2'), schema);
        expect(two.id).toBe(one.id);
      });

      it('numbers new versions of a subject 1, 2, 3 with distinct ids', async () => {
        const subject = fixture.subject('reg-versions');
        const ids: number[] = [];
        for (const property of ['x', 'y', 'z']) {
          ids.push((await registry.register(subject, jsonText(obj({ [property]: S })))).id);
        }
        expect(await registry.versions(subject)).toEqual([1, 2, 3]);
        expect(new Set(ids).size).toBe(3);
        expect((await registry.latest(subject))?.version).toBe(3);
      });

      it('answers undefined or empty for unknown subjects and schemas', async () => {
        const subject = fixture.subject('reg-unknown');
        expect(await registry.latest(subject)).toBeUndefined();
        expect(await registry.versions(subject)).toEqual([]);
        expect(await registry.lookup(subject, jsonText(obj({ q: S })))).toBeUndefined();
        await registry.register(subject, jsonText(obj({ q: S })));
        expect(await registry.lookup(subject, jsonText(obj({ q: I })))).toBeUndefined();
      });

      it('reports an unknown id as SCHEMA_NOT_FOUND', async () => {
        const error = await caught(registry.getById(2_000_000_000));
        expect(isTributaryError(error, 'SCHEMA_NOT_FOUND'), String(error)).toBe(true);
      });

      it('keeps an Avro schema with its format', async () => {
        const subject = fixture.subject('reg-avro');
        const schema: RegistrySchema = {
          format: 'AVRO',
          schema: JSON.stringify({
            type: 'record',
            name: 'Opened',
            fields: [{ name: 'a', type: 'string' }],
          }),
        };
        const registered = await registry.register(subject, schema);
        expect((await registry.getById(registered.id)).format).toBe('AVRO');
        expect((await registry.lookup(subject, schema))?.id).toBe(registered.id);
      });

      it('refuses schema text that does not parse as SCHEMA_INVALID', async () => {
        const error = await caught(
          registry.register(fixture.subject('reg-invalid'), {
            format: 'AVRO',
            schema: '{"type":"recordx"}',
          }),
        );
        expect(isTributaryError(error, 'SCHEMA_INVALID'), String(error)).toBe(true);
      });

      it('deletes a subject but keeps its ids resolvable', async () => {
        const subject = fixture.subject('reg-delete');
        const schema = jsonText(obj({ gone: S }));
        const { id } = await registry.register(subject, schema);
        await registry.deleteSubject(subject);
        expect(await registry.versions(subject)).toEqual([]);
        expect(await registry.getById(id)).toEqual(schema);
      });
    });

    describe('schema references', () => {
      const money = JSON.stringify({
        type: 'record',
        name: 'Money',
        namespace: 'contract.refs',
        fields: [{ name: 'cents', type: 'long' }],
      });
      const paid = JSON.stringify({
        type: 'record',
        name: 'Paid',
        namespace: 'contract.refs',
        fields: [{ name: 'amount', type: 'contract.refs.Money' }],
      });

      it('registers a schema referencing another subject and serves the references', async () => {
        const moneySubject = fixture.subject('ref-money');
        const paidSubject = fixture.subject('ref-paid');
        const shared = await registry.register(moneySubject, { format: 'AVRO', schema: money });
        const referencing: RegistrySchema = {
          format: 'AVRO',
          schema: paid,
          references: [
            { name: 'contract.refs.Money', subject: moneySubject, version: shared.version },
          ],
        };
        const registered = await registry.register(paidSubject, referencing);
        expect(await registry.getById(registered.id)).toEqual(referencing);
        expect((await registry.lookup(paidSubject, referencing))?.id).toBe(registered.id);
        expect((await registry.getVersion(moneySubject, 1))?.schema.schema).toBe(money);
        expect(await registry.getVersion(moneySubject, 9)).toBeUndefined();
        expect(await registry.getVersion(fixture.subject('ref-none'), 1)).toBeUndefined();
      });

      it('registers a Protobuf file importing a file registered under its import path', async () => {
        const path = `${fixture.subject('ref')}/common/money.proto`;
        const common = await registry.register(path, {
          format: 'PROTOBUF',
          schema:
            'syntax = "proto3";\npackage contract.common;\nmessage Money { int64 cents = 1; }\n',
        });
        const importing: RegistrySchema = {
          format: 'PROTOBUF',
          schema: `syntax = "proto3";\npackage contract.orders;\nimport "${path}";\nmessage Paid { contract.common.Money amount = 1; }\n`,
          references: [{ name: path, subject: path, version: common.version }],
        };
        const registered = await registry.register(fixture.subject('ref-proto'), importing);
        expect((await registry.getById(registered.id)).references).toEqual(importing.references);
      });

      it('refuses a reference to a subject version that does not exist, naming it', async () => {
        const error = await caught(
          registry.register(fixture.subject('ref-dangling'), {
            format: 'AVRO',
            schema: paid,
            references: [
              {
                name: 'contract.refs.Money',
                subject: fixture.subject('ref-absent'),
                version: 1,
              },
            ],
          }),
        );
        expect(isTributaryError(error, 'SCHEMA_REFERENCE_MISSING'), String(error)).toBe(true);
        expect(error).toMatchObject({ reference: 'contract.refs.Money' });
      });
    });

    describe('compatibility modes', () => {
      it('sets and reads a subject mode without changing the global one', async () => {
        const subject = fixture.subject('mode');
        await registry.register(subject, jsonText(obj({ a: S })));
        const global = await registry.getCompatibility();
        await registry.setCompatibility('FULL_TRANSITIVE', subject);
        expect(await registry.getCompatibility(subject)).toBe('FULL_TRANSITIVE');
        expect(await registry.getCompatibility()).toBe(global);
      });

      it('accepts anything for a subject that does not exist', async () => {
        const result = await registry.checkCompatibility(
          fixture.subject('mode-new'),
          jsonText(obj({ a: I })),
        );
        expect(result.compatible).toBe(true);
      });

      it('refuses to register an incompatible schema and names the difference', async () => {
        const subject = fixture.subject('mode-refuse');
        await registry.register(subject, jsonText(obj({ x: S })));
        await registry.setCompatibility('BACKWARD', subject);
        const error = await caught(registry.register(subject, jsonText(obj({ x: I }))));
        expect(error).toBeInstanceOf(IncompatibleSchemaError);
        expect((error as IncompatibleSchemaError).messages.join('\n')).toContain(
          'SUBSCHEMA_TYPE_CHANGED',
        );
        expect((error as IncompatibleSchemaError).retriable).toBe(false);
        expect(await registry.versions(subject)).toEqual([1]);
      });

      it('checks only the latest version unless the mode is transitive', async () => {
        const subject = fixture.subject('mode-transitive');
        await registry.setCompatibility('NONE', subject);
        await registry.register(subject, jsonText(obj({ a: S })));
        await registry.register(subject, jsonText(obj({ a: I })));
        const widened = jsonText(obj({ a: N }));
        const modes: CompatibilityMode[] = ['BACKWARD', 'BACKWARD_TRANSITIVE'];
        const answers: boolean[] = [];
        for (const mode of modes) {
          await registry.setCompatibility(mode, subject);
          answers.push((await registry.checkCompatibility(subject, widened)).compatible);
        }
        expect(answers).toEqual([true, false]);
      });

      for (const testCase of compatibilityCases) {
        it(`${testCase.format}: ${testCase.name} → BACKWARD ${String(testCase.expected.BACKWARD)}, FORWARD ${String(testCase.expected.FORWARD)}, FULL ${String(testCase.expected.FULL)}`, async () => {
          const subject = fixture.subject(`case-${compatibilityCases.indexOf(testCase)}`);
          const schema = (value: object): RegistrySchema => ({
            format: testCase.format,
            schema: JSON.stringify(value),
          });
          await registry.register(subject, schema(testCase.from));
          const actual: Record<string, boolean> = {};
          for (const mode of ['BACKWARD', 'FORWARD', 'FULL'] as const) {
            await registry.setCompatibility(mode, subject);
            actual[mode] = (
              await registry.checkCompatibility(subject, schema(testCase.to))
            ).compatible;
          }
          expect(actual).toEqual(testCase.expected);
        });
      }
    });
  });
}
