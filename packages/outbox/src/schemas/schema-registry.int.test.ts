import { useIntegrationEnv } from '@tributary/testing';
import { describeSchemaRegistryContract } from '@tributary/testing/vitest';
import { ConfluentSchemaRegistryClient } from './confluent-schema-registry-client.js';

const env = await useIntegrationEnv({ label: 'schema registry' });

describeSchemaRegistryContract('ConfluentSchemaRegistryClient on the local Apicurio Registry', () =>
  Promise.resolve({
    registry: new ConfluentSchemaRegistryClient({ url: env.schemaRegistryUrl }),
    subject: (name: string) => env.name(name),
  }),
);
