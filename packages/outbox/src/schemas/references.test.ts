import {
  avroReference,
  avroSchema,
  createRecordValueDecoder,
  createSchemaPayloadValidator,
  defineEventSchemas,
  protobufReference,
  protobufSchema,
  SchemaReferenceMissingError,
  uuidV7,
  type EventEnvelope,
} from '@tributary/core';
import { InMemorySchemaRegistry } from '@tributary/testing';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { describe, expect, it } from 'vitest';
import { createDefaultSchemaCodecs } from './codecs.js';
import { createRegistryEncoder } from './encoder.js';

const currency = avroReference({
  schema: { type: 'enum', name: 'Currency', namespace: 'bank', symbols: ['EUR', 'USD'] },
});
const money = avroReference({
  schema: {
    type: 'record',
    name: 'Money',
    namespace: 'bank',
    fields: [
      { name: 'cents', type: 'long' },
      { name: 'currency', type: 'bank.Currency' },
    ],
  },
  references: [currency],
});
const paidAvro = avroSchema({
  aggregateType: 'Order',
  eventType: 'Paid',
  schema: {
    type: 'record',
    name: 'Paid',
    namespace: 'shop',
    fields: [
      { name: 'amount', type: 'bank.Money' },
      { name: 'tip', type: ['null', 'bank.Money'], default: null },
    ],
  },
  references: [money],
});

export const MONEY_PROTO = `syntax = "proto3";
package acme.common.v1;
import "google/protobuf/timestamp.proto";
message Money { string currency = 1; int64 cents = 2; google.protobuf.Timestamp at = 3; }
`;
const REFUNDED_PROTO = `syntax = "proto3";
package acme.orders.v1;
import "acme/common/v1/money.proto";
message Refunded { string order_id = 1; acme.common.v1.Money amount = 2; }
`;
const moneyFile = protobufReference({ path: 'acme/common/v1/money.proto', schema: MONEY_PROTO });
const refundedProto = protobufSchema({
  aggregateType: 'Order',
  eventType: 'Refunded',
  schema: REFUNDED_PROTO,
  references: [moneyFile],
});

let version = 0;
const envelope = (eventType: string, payload: unknown): EventEnvelope => ({
  eventId: uuidV7(),
  aggregateType: 'Order',
  aggregateId: 'o-1',
  aggregateVersion: (version += 1),
  eventType,
  schemaVersion: 1,
  payload,
  metadata: {},
  occurredAt: new Date(0).toISOString(),
});

const caught = (body: () => unknown): unknown => {
  try {
    body();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('schema references', () => {
  it('registers Avro named types under their own subjects first, then decodes through them', async () => {
    const registry = new InMemorySchemaRegistry();
    const encoder = createRegistryEncoder({ registry, catalog: defineEventSchemas([paidAvro]) });
    const payload = {
      amount: { cents: '9007199254740993', currency: 'EUR' },
      tip: { cents: 100, currency: 'USD' },
    };
    const encoded = await encoder.encode('events.Order', envelope('Paid', payload));
    expect(await registry.subjects()).toEqual(['bank.Currency', 'bank.Money', 'events.Order-Paid']);
    const stored = await registry.getById(encoded.schemaId ?? 0);
    expect(stored.references).toEqual([{ name: 'bank.Money', subject: 'bank.Money', version: 1 }]);
    expect((await registry.latest('bank.Money'))?.schema.references).toEqual([
      { name: 'bank.Currency', subject: 'bank.Currency', version: 1 },
    ]);
    const decoder = createRecordValueDecoder({ registry, codecs: createDefaultSchemaCodecs() });
    expect((await decoder.decode(encoded.value)).payload).toEqual(payload);
  });

  it('registers an imported .proto file under its import path and decodes through it', async () => {
    const registry = new InMemorySchemaRegistry();
    const encoder = createRegistryEncoder({
      registry,
      catalog: defineEventSchemas([refundedProto]),
    });
    const payload = {
      order_id: 'o-1',
      amount: { currency: 'EUR', cents: '9007199254740993', at: '2026-12-01T17:00:00Z' },
    };
    const encoded = await encoder.encode('events.Order', envelope('Refunded', payload));
    expect(await registry.subjects()).toEqual([
      'acme/common/v1/money.proto',
      'events.Order-Refunded',
    ]);
    expect((await registry.getById(encoded.schemaId ?? 0)).references).toEqual([
      { name: 'acme/common/v1/money.proto', subject: 'acme/common/v1/money.proto', version: 1 },
    ]);
    const decoder = createRecordValueDecoder({ registry, codecs: createDefaultSchemaCodecs() });
    expect((await decoder.decode(encoded.value)).payload).toEqual(payload);
  });

  it('decodes a serialized FileDescriptorProto whose dependency is a referenced .proto text', () => {
    const root = new protobuf.Root();
    const timestamp = (
      protobuf.common as unknown as { get(file: string): protobuf.INamespace }
    ).get('google/protobuf/timestamp.proto');
    root.addJSON(timestamp.nested ?? {});
    protobuf.parse(MONEY_PROTO, root, { keepCase: true });
    protobuf.parse(REFUNDED_PROTO, root, { keepCase: true });
    root.resolveAll();
    const files = (
      root as unknown as { toDescriptor(syntax: string): { file: { package?: string }[] } }
    ).toDescriptor('proto3').file;
    const own = files.find((file) => file.package === 'acme.orders.v1');
    const serialized = Buffer.from(
      descriptor.FileDescriptorProto.encode({
        ...own,
        dependency: ['acme/common/v1/money.proto'],
      }).finish(),
    ).toString('base64');
    const references = [{ name: 'acme/common/v1/money.proto', schema: MONEY_PROTO }];
    const text = createDefaultSchemaCodecs().compile(
      { format: 'PROTOBUF', schema: REFUNDED_PROTO },
      { references },
    );
    const fromSerialized = createDefaultSchemaCodecs().compile(
      { format: 'PROTOBUF', schema: serialized },
      { references },
    );
    const payload = {
      order_id: 'o-2',
      amount: { currency: 'USD', cents: '5', at: '2026-12-01T17:00:00Z' },
    };
    expect(fromSerialized.decode(text.encode(payload))).toEqual(text.decode(text.encode(payload)));
  });

  it('names a type the schema uses without referencing it, at declaration validation', () => {
    const codecs = createDefaultSchemaCodecs();
    const withoutAvroReference = caught(() =>
      createSchemaPayloadValidator({
        catalog: defineEventSchemas([avroSchema({ ...paidAvro, references: [] })]),
        codecs,
      }),
    );
    expect(withoutAvroReference).toBeInstanceOf(SchemaReferenceMissingError);
    expect(withoutAvroReference).toMatchObject({
      code: 'SCHEMA_REFERENCE_MISSING',
      reference: 'bank.Money',
    });
    const withoutTransitive = caught(() =>
      codecs.compile(
        { format: 'AVRO', schema: paidAvro.schema },
        { references: [{ name: 'bank.Money', schema: money.schema }] },
      ),
    );
    expect(withoutTransitive).toMatchObject({ reference: 'bank.Currency' });
  });

  it('halts with the missing reference named when pre-registered and it is not registered', async () => {
    const registry = new InMemorySchemaRegistry();
    const encoder = createRegistryEncoder({
      registry,
      catalog: defineEventSchemas([refundedProto]),
      registration: 'pre-registered',
    });
    const error = await encoder
      .encode('events.Order', envelope('Refunded', { order_id: 'o-1' }))
      .catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(SchemaReferenceMissingError);
    expect(error).toMatchObject({
      reference: 'acme/common/v1/money.proto',
      subject: 'acme/common/v1/money.proto',
      retriable: false,
    });
  });

  it('refuses references across formats, cycles and one name with two schemas', () => {
    expect(() =>
      protobufSchema({ ...refundedProto, schema: REFUNDED_PROTO, references: [money] }),
    ).toThrow(/cannot reference the AVRO schema "bank.Money"/);
    const other = avroReference({
      schema: { type: 'record', name: 'Money', namespace: 'bank', fields: [] },
    });
    expect(() =>
      avroSchema({ ...paidAvro, schema: paidAvro.schema, references: [money, other] }),
    ).toThrow(/Two different schemas are declared as reference "bank.Money"/);
  });
});
