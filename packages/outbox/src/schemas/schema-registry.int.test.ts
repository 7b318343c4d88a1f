import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import {
  avroSchema,
  createRecordValueDecoder,
  defineEventSchemas,
  isRetriableError,
  isTributaryError,
  uuidV7,
  type EventEnvelope,
} from '@tributary/core';
import { useIntegrationEnv } from '@tributary/testing';
import { describeSchemaRegistryContract } from '@tributary/testing/vitest';
import { describe, expect, it } from 'vitest';
import { createDefaultSchemaCodecs } from './codecs.js';
import { ConfluentSchemaRegistryClient } from './confluent-schema-registry-client.js';
import { createRegistryEncoder } from './encoder.js';

const env = await useIntegrationEnv({ label: 'schema registry' });

describeSchemaRegistryContract('ConfluentSchemaRegistryClient on the local Apicurio Registry', () =>
  Promise.resolve({
    registry: new ConfluentSchemaRegistryClient({ url: env.schemaRegistryUrl }),
    subject: (name: string) => env.name(name),
  }),
);

describe('wire-format interoperability with @kafkajs/confluent-schema-registry', () => {
  const catalog = defineEventSchemas([
    avroSchema({
      aggregateType: 'Account',
      eventType: 'Deposited',
      schema: {
        type: 'record',
        name: 'Deposited',
        namespace: 'bank',
        fields: [{ name: 'amount', type: 'long' }],
      },
    }),
  ]);
  const registry = new ConfluentSchemaRegistryClient({ url: env.schemaRegistryUrl });
  const library = new SchemaRegistry({ host: env.schemaRegistryUrl });
  const envelope: EventEnvelope = {
    eventId: uuidV7(),
    aggregateType: 'Account',
    aggregateId: 'acc-1',
    aggregateVersion: 1,
    eventType: 'Deposited',
    schemaVersion: 1,
    payload: { amount: 42 },
    metadata: {},
    occurredAt: new Date(0).toISOString(),
  };

  it('writes Avro records the library decodes, and decodes records the library writes', async () => {
    const topic = env.topic('events.Account');
    const encoded = await createRegistryEncoder({ registry, catalog }).encode(topic, envelope);
    expect(await library.decode(encoded.value)).toEqual({ amount: 42 });
    const fromLibrary = await library.encode(encoded.schemaId as number, { amount: 7 });
    const decoder = createRecordValueDecoder({ registry, codecs: createDefaultSchemaCodecs() });
    expect((await decoder.decode(fromLibrary)).payload).toEqual({ amount: 7 });
  });

  it('reports an unreachable registry as the retriable REGISTRY_UNAVAILABLE', async () => {
    const down = new ConfluentSchemaRegistryClient({
      url: 'http://127.0.0.1:9',
      requestTimeoutMs: 2_000,
    });
    const error = await down.getById(1).catch((caught: unknown) => caught);
    expect(isRetriableError(error)).toBe(true);
    expect(isTributaryError(error, 'REGISTRY_UNAVAILABLE')).toBe(true);
  });
});
