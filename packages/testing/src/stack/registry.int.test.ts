import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { useIntegrationEnv } from './integration-env.js';

const env = await useIntegrationEnv({ label: 'registry smoke' });

const accountOpened = {
  type: 'record',
  name: 'AccountOpened',
  namespace: 'dev.tributary.smoke',
  fields: [
    { name: 'accountId', type: 'string' },
    { name: 'amount', type: 'long' },
  ],
};

describe('the stack schema registry', () => {
  it('registers, serves and round-trips an Avro schema in the Confluent wire format', async () => {
    const subject = env.name('AccountOpened-value');
    const registry = new SchemaRegistry({ host: env.schemaRegistryUrl });
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(accountOpened) },
      { subject },
    );
    expect(id).toBeGreaterThan(0);
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    const payload = { accountId: 'acc-1', amount: 10 };
    const encoded = await registry.encode(id, payload);
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);

    // A fresh client has no cache: decoding must fetch the schema by id from the server.
    const fresh = new SchemaRegistry({ host: env.schemaRegistryUrl });
    expect(await fresh.decode(encoded)).toEqual(payload);
    const fetched = await fresh.getSchema(id);
    expect((fetched as { name?: string }).name).toBe('dev.tributary.smoke.AccountOpened');
  });
});
