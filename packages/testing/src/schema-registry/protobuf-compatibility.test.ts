import { isTributaryError } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { compatibilityBreaks, InMemorySchemaRegistry } from './in-memory-schema-registry.js';
import { protobufReadBreaks } from './protobuf-compatibility.js';

const proto = (body: string, header = 'syntax = "proto3";\npackage acme.v1;\n'): string =>
  `${header}${body}\n`;
const BASE = proto(`message Order {
  string id = 1;
  int32 quantity = 2;
  Line line = 3;
  map<string, int32> tags = 4;
  oneof payment { string card = 5; string voucher = 6; }
  message Line { string sku = 1; }
}
message Shipped { string id = 1; }
enum Status { UNKNOWN = 0; DONE = 1; }`);

/** BACKWARD breaks of `update` after `original`, by Confluent's rules. */
const backward = (original: string, update: string): string[] =>
  compatibilityBreaks('BACKWARD', [{ format: 'PROTOBUF', schema: original }], {
    format: 'PROTOBUF',
    schema: update,
  });

describe("Protobuf compatibility (Confluent's rules)", () => {
  it.each([
    ['adding a field', BASE.replace('string id = 1;', 'string id = 1;\n  string note = 7;')],
    ['removing a field', BASE.replace('int32 quantity = 2;', '')],
    ['renaming a field', BASE.replace('int32 quantity = 2;', 'int32 amount = 2;')],
    ['int32 → int64 (one wire group)', BASE.replace('int32 quantity', 'int64 quantity')],
    ['string → bytes', BASE.replace('string id = 1;', 'bytes id = 1;')],
    ['int32 → enum', BASE.replace('int32 quantity', 'Status quantity')],
    [
      'adding a message and an enum value',
      `${BASE}message Cancelled { string id = 1; }\n`.replace('DONE = 1;', 'DONE = 1; LOST = 2;'),
    ],
    [
      'reordering messages (message indexes)',
      proto(
        `message Shipped { string id = 1; }\n${BASE.split('\n').slice(2).join('\n').replace('message Shipped { string id = 1; }', '')}`,
      ),
    ],
    [
      'adding a field to a oneof',
      BASE.replace('string voucher = 6;', 'string voucher = 6; string cash = 8;'),
    ],
    [
      'moving one field into a new oneof',
      BASE.replace('string id = 1;', 'oneof key { string id = 1; }'),
    ],
  ])('accepts %s', (_name, update) => {
    expect(backward(BASE, update)).toEqual([]);
  });

  it.each([
    [
      'a changed package',
      BASE.replace('package acme.v1;', 'package acme.v2;'),
      'PACKAGE_CHANGED from "acme.v1" to "acme.v2"',
    ],
    [
      'a removed message',
      BASE.replace('message Shipped { string id = 1; }', ''),
      'MESSAGE_REMOVED at acme.v1.Shipped',
    ],
    [
      'a reused field number with another scalar group',
      BASE.replace('int32 quantity = 2;', 'string quantity = 2;'),
      'FIELD_SCALAR_KIND_CHANGED at acme.v1.Order.quantity (field 2)',
    ],
    [
      'int32 → sint32 (zig-zag on the wire)',
      BASE.replace('int32 quantity', 'sint32 quantity'),
      'FIELD_SCALAR_KIND_CHANGED at acme.v1.Order.quantity (field 2)',
    ],
    [
      'a scalar that became a message',
      BASE.replace('int32 quantity = 2;', 'Line quantity = 2;'),
      'FIELD_KIND_CHANGED at acme.v1.Order.quantity (field 2)',
    ],
    [
      'another message type',
      BASE.replace('Line line = 3;', 'Shipped line = 3;'),
      'FIELD_NAMED_TYPE_CHANGED at acme.v1.Order.line (field 3)',
    ],
    [
      'a map value type',
      BASE.replace('map<string, int32> tags', 'map<string, string> tags'),
      'FIELD_SCALAR_KIND_CHANGED at acme.v1.Order.tags (field 4) (map value)',
    ],
    [
      'a removed oneof member',
      BASE.replace('string voucher = 6;', ''),
      'ONEOF_FIELD_REMOVED at acme.v1.Order.voucher (field 6)',
    ],
    [
      'two fields moved into one oneof',
      BASE.replace(
        'string id = 1;\n  int32 quantity = 2;',
        'oneof key { string id = 1; int32 quantity = 2; }',
      ),
      'MULTIPLE_FIELDS_MOVED_TO_ONEOF at acme.v1.Order.key (oneof)',
    ],
    [
      'a field moved into an existing oneof',
      BASE.replace('string id = 1;', '').replace(
        'string card = 5;',
        'string card = 5; string id = 1;',
      ),
      'FIELD_MOVED_TO_EXISTING_ONEOF at acme.v1.Order.payment (oneof)',
    ],
    [
      'a nested message field type',
      BASE.replace('message Line { string sku = 1; }', 'message Line { double sku = 1; }'),
      'FIELD_SCALAR_KIND_CHANGED at acme.v1.Order.Line.sku (field 1)',
    ],
  ])('refuses %s, naming it', (_name, update, expected) => {
    expect(backward(BASE, update)).toContain(expected);
  });

  it('refuses adding or removing a proto2 required field', () => {
    const v1 = proto('message A { required string id = 1; }', 'syntax = "proto2";\npackage p;\n');
    const v2 = proto(
      'message A { required string id = 1; required int32 n = 2; }',
      'syntax = "proto2";\npackage p;\n',
    );
    expect(protobufReadBreaks(v1, v2)).toEqual(['REQUIRED_FIELD_ADDED at p.A.n (field 2)']);
    expect(protobufReadBreaks(v2, v1)).toEqual(['REQUIRED_FIELD_REMOVED at p.A.n (field 2)']);
    expect(
      protobufReadBreaks(
        v1,
        proto(
          'message A { required string id = 1; optional int32 n = 2; }',
          'syntax = "proto2";\npackage p;\n',
        ),
      ),
    ).toEqual([]);
  });

  it('applies FORWARD, FULL and the transitive modes in the registry, with a typed error', async () => {
    const registry = new InMemorySchemaRegistry();
    const subject = 'acme-Order';
    const v1 = proto('message Order { string id = 1; }');
    const v2 = proto('message Order { string id = 1; int64 n = 2; }'); // adds 2
    const v3 = proto('message Order { string id = 1; string n = 2; }'); // 2 reused as string
    await registry.register(subject, { format: 'PROTOBUF', schema: v1 });
    await registry.setCompatibility('FULL', subject);
    await registry.register(subject, { format: 'PROTOBUF', schema: v2 });
    const error = await registry
      .register(subject, { format: 'PROTOBUF', schema: v3 })
      .catch((caught: unknown) => caught);
    expect(isTributaryError(error, 'SCHEMA_INCOMPATIBLE')).toBe(true);
    expect((error as { messages: string[] }).messages).toEqual([
      'FIELD_SCALAR_KIND_CHANGED at acme.v1.Order.n (field 2)',
    ]);
    // v3 against v1 only is fine (v1 has no field 2); against every version it is not.
    expect(
      compatibilityBreaks('FORWARD', [{ format: 'PROTOBUF', schema: v1 }], {
        format: 'PROTOBUF',
        schema: v3,
      }),
    ).toEqual([]);
    expect(
      compatibilityBreaks(
        'BACKWARD_TRANSITIVE',
        [v1, v2].map((schema) => ({ format: 'PROTOBUF' as const, schema })),
        { format: 'PROTOBUF', schema: v3 },
      ),
    ).toEqual(['FIELD_SCALAR_KIND_CHANGED at acme.v1.Order.n (field 2)']);
    expect(
      compatibilityBreaks(
        'FORWARD_TRANSITIVE',
        [v1, v2].map((schema) => ({ format: 'PROTOBUF' as const, schema })),
        { format: 'PROTOBUF', schema: v3 },
      ),
    ).toEqual(['FIELD_SCALAR_KIND_CHANGED at acme.v1.Order.n (field 2)']);
  });

  it('compares a message field whose type comes from a referenced file by its full name', () => {
    const common =
      'syntax = "proto3";\npackage acme.common;\nmessage Money { int64 cents = 1; }\nmessage Price { int64 cents = 1; }\n';
    const references = [{ name: 'acme/common.proto', schema: common }];
    const using = (type: string) =>
      proto(`import "acme/common.proto";\nmessage Paid { ${type} amount = 1; }`);
    expect(
      protobufReadBreaks(
        using('acme.common.Money'),
        using('acme.common.Money'),
        references,
        references,
      ),
    ).toEqual([]);
    expect(
      protobufReadBreaks(
        using('acme.common.Money'),
        using('acme.common.Price'),
        references,
        references,
      ),
    ).toEqual(['FIELD_NAMED_TYPE_CHANGED at acme.v1.Paid.amount (field 1)']);
  });
});
