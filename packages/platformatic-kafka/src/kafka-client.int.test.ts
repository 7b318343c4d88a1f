import { randomUUID } from 'node:crypto';
import { useIntegrationEnv } from '@tributary/testing';
import { describeKafkaClientContract } from '@tributary/testing/vitest';
import { createPlatformaticKafkaClient } from './client.js';

const env = await useIntegrationEnv({ label: 'platformatic_client' });
const client = createPlatformaticKafkaClient({
  clientId: 'platformatic-contract',
  brokers: env.kafkaBrokers,
});

describeKafkaClientContract('@platformatic/kafka on the real broker', () =>
  Promise.resolve({
    client,
    topic: (name: string) => env.topic(`contract.${name}.${randomUUID().slice(0, 8)}`),
    timeoutMs: 30_000,
  }),
);
