import { describe, expect, it } from 'vitest';
import { isTributaryError } from '../errors.js';
import {
  avroSchema,
  defineEventSchemas,
  jsonSchema,
  protobufSchema,
  toRegistrySchema,
} from './declarations.js';
import {
  defaultTopicFor,
  recordNameStrategy,
  subjectNameStrategy,
  topicNameStrategy,
  topicRecordNameStrategy,
} from './subject-naming.js';

const opened = jsonSchema({
  aggregateType: 'Account',
  eventType: 'AccountOpened',
  schema: { type: 'object', properties: { owner: { type: 'string' } } },
});

describe('schema declarations', () => {
  it('default to JSON Schema version 1, named after the event type', () => {
    expect(opened).toMatchObject({ format: 'JSON', schemaVersion: 1, recordName: 'AccountOpened' });
    expect(JSON.parse(opened.schema)).toEqual({
      type: 'object',
      properties: { owner: { type: 'string' } },
    });
    expect(toRegistrySchema(opened)).toEqual({ format: 'JSON', schema: opened.schema });
  });

  it('take the record name from the Avro full name and the Protobuf package and message', () => {
    const avro = avroSchema({
      aggregateType: 'Account',
      eventType: 'AccountOpened',
      schema: { type: 'record', name: 'AccountOpened', namespace: 'bank', fields: [] },
    });
    expect(avro.recordName).toBe('bank.AccountOpened');
    const proto = protobufSchema({
      aggregateType: 'Account',
      eventType: 'AccountOpened',
      schema: 'syntax = "proto3";\npackage bank.v1;\nmessage Opened { string owner = 1; }\n',
    });
    expect(proto.recordName).toBe('bank.v1.Opened');
    const oneLine = protobufSchema({
      aggregateType: 'Account',
      eventType: 'AccountOpened',
      schema:
        '/* message Wrong {} */ syntax = "proto3"; package acme.bank.v1; // message Nope\n message Opened { message Inner {} }',
    });
    expect(oneLine.recordName).toBe('acme.bank.v1.Opened');
  });

  it('refuse schemas that are not what their format needs', () => {
    const bad = [
      () => jsonSchema({ aggregateType: 'A', eventType: 'E', schema: '[1]' }),
      () => jsonSchema({ aggregateType: 'A', eventType: 'E', schema: '{nope' }),
      () => avroSchema({ aggregateType: 'A', eventType: 'E', schema: { type: 'string' } }),
      () => protobufSchema({ aggregateType: 'A', eventType: 'E', schema: 'syntax = "proto3";' }),
    ];
    for (const declare of bad) {
      try {
        declare();
        expect.unreachable();
      } catch (error) {
        expect(isTributaryError(error, 'SCHEMA_INVALID')).toBe(true);
      }
    }
  });

  it('are found by aggregate type, event type and version, and refuse duplicates', () => {
    const v2 = jsonSchema({ ...opened, schema: opened.schema, schemaVersion: 2 });
    const catalog = defineEventSchemas([opened, v2]);
    expect(catalog.find('Account', 'AccountOpened', 2)).toBe(v2);
    expect(catalog.find('Account', 'AccountOpened', 3)).toBeUndefined();
    expect(() => catalog.get('Loan', 'AccountOpened', 1)).toThrow(/No schema is declared/);
    expect(() => defineEventSchemas([opened, opened])).toThrow(/declared twice/);
  });
});

describe('subject naming strategies', () => {
  const context = {
    topic: 'events.Account',
    eventType: 'AccountOpened',
    recordName: 'bank.Opened',
  };

  it('name subjects <topic>-<EventType> by default, or after the topic or the record', () => {
    expect(topicRecordNameStrategy(context)).toBe('events.Account-AccountOpened');
    expect(topicNameStrategy(context)).toBe('events.Account-value');
    expect(recordNameStrategy(context)).toBe('bank.Opened');
    expect(subjectNameStrategy('topic-record')(context)).toBe('events.Account-AccountOpened');
    expect(() => subjectNameStrategy('nope')).toThrow(/topic, record or topic-record/);
  });

  it('derive the default topic from the aggregate type', () => {
    expect(defaultTopicFor('Account')).toBe('events.Account');
    expect(defaultTopicFor('Account', 'prod')).toBe('prod.Account');
  });
});
