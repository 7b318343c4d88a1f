import { randomUUID } from 'node:crypto';
import { useIntegrationEnv } from '@tributary/testing';
import { describeKafkaClientContract } from '@tributary/testing/vitest';
import { createKafkajsClient } from './client.js';

const env = await useIntegrationEnv({ label: 'kafkajs_client' });
const client = createKafkajsClient({ clientId: 'kafkajs-contract', brokers: env.kafkaBrokers });

describeKafkaClientContract('kafkajs on the real broker', () =>
  Promise.resolve({
    client,
    topic: (name: string) => env.topic(`contract.${name}.${randomUUID().slice(0, 8)}`),
    timeoutMs: 30_000,
  }),
);
