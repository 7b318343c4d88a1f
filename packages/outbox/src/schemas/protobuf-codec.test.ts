import {
  InvalidSchemaError,
  SchemaReferenceMissingError,
  SerializationError,
} from '@tributary/core';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { describe, expect, it } from 'vitest';
import { ORDERS_PROTO as ORDERS } from './protobuf.test.support.js';
import {
  createProtobufCodec,
  decodeMessageIndexes,
  encodeMessageIndexes,
} from './protobuf-codec.js';

const codec = createProtobufCodec();

const placed = {
  order_id: 'o-1',
  total_cents: '9007199254740993',
  sequence: '18446744073709551615',
  signature: Buffer.from([0, 1, 2, 250]).toString('base64'),
  channel: 'STORE',
  lines: [{ sku: 'a', quantity: 2, discount: { cents: '-9223372036854775808' } }],
  placed_at: '2026-12-01T17:00:00.123456789Z',
  delivery_window: '-1.5s',
  note: 'leave at the door',
  loyalty_points: '42',
  tags: { gift: 1 },
  card: '4242',
  weight: 1.5,
};

describe('the Protobuf codec', () => {
  it('round-trips the proto3 JSON mapping: enum names, 64-bit strings, base64, Timestamp, Duration, wrappers, maps, oneofs', () => {
    const compiled = codec.compile({ format: 'PROTOBUF', schema: ORDERS });
    expect(compiled.validate(placed)).toEqual([]);
    const bytes = compiled.encode(placed);
    expect(bytes[0]).toBe(0); // message indexes [0]
    // Printers write 0, 3, 6 or 9 fractional digits (proto3 JSON).
    expect(compiled.decode(bytes)).toEqual({ ...placed, delivery_window: '-1.500s' });
  });

  it('accepts lowerCamelCase field names, numbers for 64-bit fields and enum numbers', () => {
    const compiled = codec.compile({ format: 'PROTOBUF', schema: ORDERS });
    const decoded = compiled.decode(
      compiled.encode({
        orderId: 'o-2',
        totalCents: 12,
        channel: 1,
        placedAt: '2026-01-01T00:00:00+02:00',
      }),
    );
    expect(decoded).toMatchObject({
      order_id: 'o-2',
      total_cents: '12',
      channel: 'WEB',
      placed_at: '2025-12-31T22:00:00Z',
      sequence: '0',
      signature: '',
      lines: [],
      tags: {},
    });
    expect(decoded).not.toHaveProperty('note');
  });

  it('encodes another message of the file with its message indexes, and decodes by them', () => {
    const shipped = codec.compile(
      { format: 'PROTOBUF', schema: ORDERS },
      { recordName: 'acme.orders.v1.OrderShipped' },
    );
    const bytes = shipped.encode({ order_id: 'o-1', status: 'SHIPPED' });
    expect([...bytes.subarray(0, 2)]).toEqual([2, 2]); // one index, 1 (zig-zag)
    const first = codec.compile({ format: 'PROTOBUF', schema: ORDERS });
    expect(first.decode(bytes)).toEqual({ order_id: 'o-1', status: 'SHIPPED' });
    const nested = codec.compile(
      { format: 'PROTOBUF', schema: ORDERS },
      { recordName: 'OrderPlaced.Line.Discount' },
    );
    const nestedBytes = nested.encode({ cents: '5' });
    expect(decodeMessageIndexes(nestedBytes)[0]).toEqual([0, 0, 0]);
    expect(first.decode(nestedBytes)).toEqual({ cents: '5' });
  });

  it('reports every way a payload does not fit, by JSON pointer', () => {
    const compiled = codec.compile({ format: 'PROTOBUF', schema: ORDERS });
    const issues = compiled.validate({
      order_id: 7,
      channel: 'PHONE',
      total_cents: '1.5',
      placed_at: 'yesterday',
      lines: [{ quantity: -1 }],
      card: 'x',
      voucher: 'y',
      colour: 'red',
    });
    expect(issues.map((issue) => issue.path)).toEqual([
      '/order_id',
      '/channel',
      '/total_cents',
      '/placed_at',
      '/lines/0/quantity',
      '/voucher',
      '/colour',
    ]);
    expect(() => compiled.encode({ channel: 'PHONE' })).toThrow(SerializationError);
  });

  it('reads a schema registered in the serialized form (base64 FileDescriptorProto, as Confluent serializers register it)', () => {
    const text =
      'syntax = "proto3"; package acme.v1; message A { int32 x = 1; } message B { Kind kind = 1; int64 n = 2; } enum Kind { K0 = 0; K1 = 1; }';
    const parsed = protobuf.parse(text, { keepCase: true }).root as protobuf.Root & {
      toDescriptor(syntax: string): { file: unknown[] };
    };
    const set = parsed.toDescriptor('proto3');
    const file = descriptor.FileDescriptorProto.encode(
      descriptor.FileDescriptorProto.fromObject(set.file[0] as Record<string, unknown>),
    ).finish();
    const serialized = Buffer.from(file).toString('base64');
    const fromText = codec.compile(
      { format: 'PROTOBUF', schema: text },
      { recordName: 'acme.v1.B' },
    );
    const fromSerialized = codec.compile({ format: 'PROTOBUF', schema: serialized });
    const bytes = fromText.encode({ kind: 'K1', n: '9007199254740993' });
    expect(fromSerialized.decode(bytes)).toEqual({ kind: 'K1', n: '9007199254740993' });
  });

  it('writes and reads Confluent message indexes', () => {
    expect([...encodeMessageIndexes([0])]).toEqual([0]);
    expect([...encodeMessageIndexes([1, 0, 70])]).toEqual([6, 2, 0, 140, 1]);
    expect(decodeMessageIndexes(Uint8Array.of(6, 2, 0, 140, 1, 9))).toEqual([[1, 0, 70], 5]);
    expect(decodeMessageIndexes(Uint8Array.of(0, 9))).toEqual([[0], 1]);
  });

  it('refuses a file without messages, and an import missing from its references by name', () => {
    expect(() => codec.compile({ format: 'PROTOBUF', schema: 'syntax = "proto3";' })).toThrow(
      InvalidSchemaError,
    );
    let error: unknown;
    try {
      codec.compile({
        format: 'PROTOBUF',
        schema: 'syntax = "proto3"; import "acme/common.proto"; message A { int32 x = 1; }',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SchemaReferenceMissingError);
    expect(error).toMatchObject({
      code: 'SCHEMA_REFERENCE_MISSING',
      reference: 'acme/common.proto',
    });
    expect((error as Error).message).toMatch(/protobufReference\(\{ path: 'acme\/common.proto'/);
  });
});
