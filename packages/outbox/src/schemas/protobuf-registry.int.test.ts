/**
 * Every Protobuf feature (and Avro longs beyond 2^53) through the stack's real registry:
 * the capture encoder registers the declared schema in Apicurio and encodes; the record
 * decoder fetches the schema back by id — the registry's text, not ours — and decodes.
 */
import {
  avroSchema,
  createRecordValueDecoder,
  decodeWireFormat,
  defineEventSchemas,
  protobufSchema,
  uuidV7,
  type EventEnvelope,
} from '@tributary/core';
import { useIntegrationEnv } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { createDefaultSchemaCodecs } from './codecs.js';
import { ConfluentSchemaRegistryClient } from './confluent-schema-registry-client.js';
import { createRegistryEncoder } from './encoder.js';
import { decodeMessageIndexes } from './protobuf-codec.js';
import { ORDERS_PROTO } from './protobuf.test.support.js';

const env = await useIntegrationEnv({ label: 'protobuf registry' });
const registry = new ConfluentSchemaRegistryClient({ url: env.schemaRegistryUrl });
const topic = env.topic('events.Order');

const catalog = defineEventSchemas([
  protobufSchema({ aggregateType: 'Order', eventType: 'OrderPlaced', schema: ORDERS_PROTO }),
  protobufSchema({
    aggregateType: 'Order',
    eventType: 'OrderShipped',
    schema: ORDERS_PROTO,
    recordName: 'acme.orders.v1.OrderShipped',
  }),
  protobufSchema({
    aggregateType: 'Order',
    eventType: 'DiscountGranted',
    schema: ORDERS_PROTO,
    recordName: 'acme.orders.v1.OrderPlaced.Line.Discount',
  }),
  protobufSchema({
    aggregateType: 'Order',
    eventType: 'Noted',
    // The one-line form, without a package.
    schema: 'syntax = "proto3"; message Noted { string text = 1; }',
  }),
  avroSchema({
    aggregateType: 'Order',
    eventType: 'Refunded',
    schema: {
      type: 'record',
      name: 'Refunded',
      namespace: 'acme.orders',
      fields: [{ name: 'cents', type: 'long' }],
    },
  }),
]);
const encoder = createRegistryEncoder({ registry, catalog });
const decoder = createRecordValueDecoder({ registry, codecs: createDefaultSchemaCodecs() });

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

const placed = {
  order_id: 'o-1',
  total_cents: '9007199254740993',
  sequence: '18446744073709551615',
  signature: Buffer.from([0, 1, 2, 250]).toString('base64'),
  channel: 'STORE',
  lines: [{ sku: 'a', quantity: 2, discount: { cents: '-9223372036854775808' } }],
  placed_at: '2026-12-01T17:00:00.123456789Z',
  delivery_window: '-1.500s',
  note: 'leave at the door',
  loyalty_points: '42',
  tags: { gift: 1 },
  card: '4242',
  weight: 1.5,
};

describe('Protobuf through the real registry', () => {
  it.each([
    [
      'dotted package, nested message and enum, well-known types, proto3 JSON mapping',
      'OrderPlaced',
      placed,
      [0],
    ],
    [
      'a second message of the file (message indexes [1])',
      'OrderShipped',
      { order_id: 'o-1', status: 'SHIPPED' },
      [1],
    ],
    [
      'a nested message as the event (indexes [0, 0, 0])',
      'DiscountGranted',
      { cents: '-5' },
      [0, 0, 0],
    ],
    ['the one-line declaration form', 'Noted', { text: 'hi' }, [0]],
  ])('round-trips %s', async (_, eventType, payload, indexes) => {
    const encoded = await encoder.encode(topic, envelope(eventType, payload));
    const { schemaId, payload: body } = decodeWireFormat(encoded.value);
    expect(decodeMessageIndexes(body)[0]).toEqual(indexes);
    expect((await registry.getById(schemaId)).format).toBe('PROTOBUF');
    const decoded = await decoder.decode(encoded.value);
    expect(decoded).toEqual({ encoding: 'registry', schemaId, format: 'PROTOBUF', payload });
  });

  it('round-trips an Avro long beyond 2^53 as a string', async () => {
    const encoded = await encoder.encode(
      topic,
      envelope('Refunded', { cents: '-9223372036854775808' }),
    );
    expect((await decoder.decode(encoded.value)).payload).toEqual({
      cents: '-9223372036854775808',
    });
  });
});
