import {
  avroSchema,
  createRecordValueDecoder,
  defineEventSchemas,
  isTributaryError,
  jsonSchema,
  protobufSchema,
  uuidV7,
  type EventEnvelope,
} from '@tributary/core';
import { InMemorySchemaRegistry } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { createDefaultSchemaCodecs } from './codecs.js';
import { createRegistryEncoder } from './encoder.js';

const catalog = defineEventSchemas([
  jsonSchema({
    aggregateType: 'Account',
    eventType: 'Opened',
    schema: { type: 'object', properties: { owner: { type: 'string' } }, required: ['owner'] },
  }),
  avroSchema({
    aggregateType: 'Account',
    eventType: 'Deposited',
    schema: {
      type: 'record',
      name: 'Deposited',
      namespace: 'bank',
      fields: [
        { name: 'amount', type: 'long' },
        { name: 'memo', type: ['null', 'string'], default: null },
      ],
    },
  }),
  protobufSchema({
    aggregateType: 'Account',
    eventType: 'Closed',
    schema:
      'syntax = "proto3";\npackage bank;\nmessage Closed { string reason = 1; int32 code = 2; }\n',
  }),
]);

let version = 0;
const envelope = (eventType: string, payload: unknown, schemaVersion = 1): EventEnvelope => ({
  eventId: uuidV7(),
  aggregateType: 'Account',
  aggregateId: 'acc-1',
  aggregateVersion: (version += 1),
  eventType,
  schemaVersion,
  payload,
  metadata: {},
  occurredAt: new Date(0).toISOString(),
});

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('the capture encoder', () => {
  it('encodes JSON Schema, Avro and Protobuf payloads that decode back by schema id', async () => {
    const registry = new InMemorySchemaRegistry();
    const encoder = createRegistryEncoder({ registry, catalog });
    const decoder = createRecordValueDecoder({ registry, codecs: createDefaultSchemaCodecs() });
    const cases = [
      ['Opened', { owner: 'Ann' }],
      ['Deposited', { amount: 42, memo: 'rent' }],
      ['Closed', { reason: 'moved', code: 7 }],
    ] as const;
    for (const [eventType, payload] of cases) {
      const encoded = await encoder.encode('events.Account', envelope(eventType, payload));
      expect(encoded.value[0]).toBe(0);
      expect(encoded.subject).toBe(`events.Account-${eventType}`);
      expect(encoded.contentType).toBe('application/vnd.schemaregistry');
      const decoded = await decoder.decode(encoded.value);
      expect(decoded).toMatchObject({ encoding: 'registry', schemaId: encoded.schemaId, payload });
    }
    expect(await registry.subjects()).toEqual([
      'events.Account-Opened',
      'events.Account-Deposited',
      'events.Account-Closed',
    ]);
  });

  it('asks the registry once per subject and schema, then encodes from the cache', async () => {
    const registry = new InMemorySchemaRegistry();
    const encoder = createRegistryEncoder({ registry, catalog });
    expect(
      encoder.encodeCached('events.Account', envelope('Opened', { owner: 'A' })),
    ).toBeUndefined();
    await Promise.all(
      [1, 2, 3].map((n) =>
        encoder.encode('events.Account', envelope('Opened', { owner: `o${n}` })),
      ),
    );
    expect(
      encoder.encodeCached('events.Account', envelope('Opened', { owner: 'B' }))?.schemaId,
    ).toBeGreaterThan(0);
    expect(registry.requests.get('register')).toBe(1);
  });

  it('throws a retriable error while the registry is down and encodes once it is back', async () => {
    const registry = new InMemorySchemaRegistry();
    const encoder = createRegistryEncoder({ registry, catalog });
    registry.setAvailable(false);
    const error = await caught(
      encoder.encode('events.Account', envelope('Opened', { owner: 'A' })),
    );
    expect(isTributaryError(error, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect((error as { retriable: boolean }).retriable).toBe(true);
    registry.setAvailable(true);
    expect(
      (await encoder.encode('events.Account', envelope('Opened', { owner: 'A' }))).schemaId,
    ).toBeGreaterThan(0);
  });

  it('halts (non-retriable) on a payload that does not match, an unregistered schema or an undeclared event', async () => {
    const registry = new InMemorySchemaRegistry();
    const strict = createRegistryEncoder({ registry, catalog, registration: 'pre-registered' });
    const mismatch = await caught(
      createRegistryEncoder({ registry, catalog }).encode(
        'events.Account',
        envelope('Opened', { owner: 1 }),
      ),
    );
    expect(isTributaryError(mismatch, 'PAYLOAD_SCHEMA_MISMATCH')).toBe(true);
    const unregistered = await caught(strict.encode('t', envelope('Opened', { owner: 'A' })));
    expect(isTributaryError(unregistered, 'SCHEMA_NOT_FOUND')).toBe(true);
    const undeclared = await caught(strict.encode('t', envelope('Renamed', { name: 'x' })));
    expect((undeclared as Error).message).toMatch(/No schema is declared for Account\/Renamed v1/);
  });

  it('publishes undeclared events as plain JSON when asked to', async () => {
    const encoder = createRegistryEncoder({
      registry: new InMemorySchemaRegistry(),
      catalog,
      undeclared: 'json',
    });
    const encoded = await encoder.encode('t', envelope('Renamed', { name: 'x' }));
    expect(encoded).toMatchObject({ contentType: 'application/json' });
    expect(JSON.parse(encoded.value.toString('utf8'))).toEqual({ name: 'x' });
  });

  it('refuses an incompatible schema change under the subject mode', async () => {
    const registry = new InMemorySchemaRegistry({ compatibility: 'BACKWARD' });
    const v1 = createRegistryEncoder({ registry, catalog });
    await v1.encode('events.Account', envelope('Opened', { owner: 'A' }));
    const changed = defineEventSchemas([
      jsonSchema({
        aggregateType: 'Account',
        eventType: 'Opened',
        schema: { type: 'object', properties: { owner: { type: 'integer' } } },
      }),
    ]);
    const error = await caught(
      createRegistryEncoder({ registry, catalog: changed }).encode(
        'events.Account',
        envelope('Opened', { owner: 1 }),
      ),
    );
    expect(isTributaryError(error, 'SCHEMA_INCOMPATIBLE')).toBe(true);
  });
});
