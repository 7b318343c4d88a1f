import { describe, expect, it } from 'vitest';
import { isTributaryError } from '../errors.js';
import { SchemaCodecs } from './codec.js';
import { avroSchema, defineEventSchemas, jsonSchema } from './declarations.js';
import { PayloadSchemaMismatchError } from './errors.js';
import { createJsonSchemaCodec } from './json-schema-codec.js';
import { createSchemaPayloadValidator } from './validator.js';

const deposited = jsonSchema({
  aggregateType: 'Account',
  eventType: 'MoneyDeposited',
  schema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: {
      amount: { type: 'integer', minimum: 1 },
      memo: { type: 'string', maxLength: 5 },
      lines: {
        type: 'array',
        items: { type: 'object', properties: { 'a/b': { type: 'string' } } },
      },
    },
    required: ['amount'],
    additionalProperties: false,
  },
});
const catalog = defineEventSchemas([deposited]);
const event = (payload: unknown, schemaVersion = 1) => ({
  aggregateType: 'Account',
  eventType: 'MoneyDeposited',
  schemaVersion,
  payload,
});

describe('the schema payload validator', () => {
  it('accepts a payload that matches its schema', () => {
    const validator = createSchemaPayloadValidator({ catalog });
    expect(() => validator.validate(event({ amount: 5, memo: 'ok' }))).not.toThrow();
  });

  it('lists every issue with the JSON pointer of the offending value', () => {
    const validator = createSchemaPayloadValidator({ catalog });
    let caught: unknown;
    try {
      validator.validate(event({ memo: 'too long', extra: 1, lines: [{ 'a/b': 3 }] }));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PayloadSchemaMismatchError);
    const error = caught as PayloadSchemaMismatchError;
    expect(error.code).toBe('PAYLOAD_SCHEMA_MISMATCH');
    expect(error.retriable).toBe(false);
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(
      ['/amount', '/extra', '/lines/0/a~1b', '/memo'].sort(),
    );
    expect(error.message).toContain('MoneyDeposited v1');
  });

  it('lets undeclared events through by default and refuses them when asked to', () => {
    expect(() => createSchemaPayloadValidator({ catalog }).validate(event({}, 2))).not.toThrow();
    const strict = createSchemaPayloadValidator({ catalog, undeclared: 'reject' });
    try {
      strict.validate(event({ amount: 1 }, 2));
      expect.unreachable();
    } catch (error) {
      expect(isTributaryError(error, 'SCHEMA_NOT_FOUND')).toBe(true);
    }
  });

  it('fails at creation when a declared format has no codec or a schema does not compile', () => {
    const avro = avroSchema({
      aggregateType: 'Account',
      eventType: 'Closed',
      schema: { type: 'record', name: 'Closed', fields: [] },
    });
    expect(() => createSchemaPayloadValidator({ catalog: defineEventSchemas([avro]) })).toThrow(
      /No codec for AVRO/,
    );
    const broken = jsonSchema({
      aggregateType: 'Account',
      eventType: 'Broken',
      schema: { type: 'object', properties: { a: { $ref: '#/definitions/missing' } } },
    });
    expect(() =>
      createSchemaPayloadValidator({
        catalog: defineEventSchemas([broken]),
        codecs: new SchemaCodecs([createJsonSchemaCodec()]),
      }),
    ).toThrow(/Broken v1 is unusable/);
  });
});
