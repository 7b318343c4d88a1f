import { describeKafkaClientContract } from '../contracts/kafka-client.contract.js';
import { InMemoryKafkaClient } from './in-memory-kafka-client.js';
import { InMemoryKafkaLog } from './in-memory-kafka-log.js';

describeKafkaClientContract('InMemoryKafkaClient', () =>
  Promise.resolve({
    client: new InMemoryKafkaClient(new InMemoryKafkaLog()),
    topic: (name: string) => name,
    timeoutMs: 2_000,
    compacts: false,
  }),
);
