/**
 * Raw produce rate of one Kafka client for `npm run bench:capture`, in its own process so
 * each client (and kafkajs's stock record encoder, which it loads once per process) is
 * measured cleanly. The records are the same for every client: the capturer's shape (key,
 * the same JSON payload bytes, the envelope headers), sent through the `KafkaClient` port
 * the capturer uses, by an idempotent producer (acks from all replicas, one request in
 * flight), in batches of ~900 KiB like the capturer's produce requests, outside a transaction.
 * Usage: raw-produce.ts <brokers> <topicPrefix> <events> <kafkajs|kafkajs-stock|platformatic>
 * Prints `{"eventsPerSecond": n}`.
 */
import { createKafkaClient, type KafkaClientName } from '@tributary/cli';
import { envelopeHeaders, uuidV7, type KafkaMessage } from '@tributary/core';

const [brokers = '', prefix = 'bench', eventsText = '100000', mode = 'kafkajs'] =
  process.argv.slice(2);
const events = Number(eventsText);
const client: KafkaClientName = mode === 'platformatic' ? 'platformatic' : 'kafkajs';
const kafka = createKafkaClient(client, {
  brokers: brokers.split(','),
  clientId: 'bench-raw',
  fastRecordEncoder: mode !== 'kafkajs-stock',
});
const TYPES = ['Account', 'Transfer', 'Order', 'Invoice', 'Shipment'];
const value = Buffer.from(
  '{"note": "benchmark event with a realistic small payload", "lines": [{"sku": "SKU-1", "quantity": 2, "priceCents": 1999}], "orderId": "order-1"}',
);
const admin = kafka.admin();
await admin.connect();
const topics = TYPES.map((type) => `${prefix}.raw-${mode}.${type}`);
await admin.createTopics(topics.map((topic) => ({ topic, partitions: 3 })));
await admin.disconnect();
const producer = kafka.producer();
await producer.connect();
const records = Array.from({ length: events }, (_, index) => {
  const headers: Record<string, string> = envelopeHeaders({
    eventId: uuidV7(),
    aggregateType: TYPES[index % TYPES.length] ?? 'Account',
    aggregateId: `agg-${index % 1000}`,
    aggregateVersion: 1 + Math.floor(index / 1000),
    eventType: 'LineAdded',
    schemaVersion: 1,
    payload: undefined,
    metadata: { correlationId: uuidV7(), causationId: uuidV7(), userId: 'user-42' },
    occurredAt: new Date().toISOString(),
  });
  headers['tributary.commit_lsn'] = '0/1A2B3C4D';
  headers['tributary.tx_seq'] = String(index % 10);
  const message: KafkaMessage = { key: `agg-${index % 1000}`, value, headers };
  return { topic: topics[index % TYPES.length] ?? '', message };
});
const perRequest = Math.floor((900 * 1024) / 560);
const started = performance.now();
for (let offset = 0; offset < records.length; offset += perRequest) {
  const byTopic = new Map<string, KafkaMessage[]>();
  for (const record of records.slice(offset, offset + perRequest)) {
    let messages = byTopic.get(record.topic);
    if (messages === undefined) byTopic.set(record.topic, (messages = []));
    messages.push(record.message);
  }
  await producer.send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
}
const ms = performance.now() - started;
await producer.disconnect();
process.stdout.write(`${JSON.stringify({ eventsPerSecond: Math.round((events * 1000) / ms) })}\n`);
process.exit(0);
