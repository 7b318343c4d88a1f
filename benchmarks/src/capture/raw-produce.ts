/**
 * Raw kafkajs produce rate for `npm run bench:capture`, in its own process so the stock
 * kafkajs record encoder and Tributary's fast one are each measured cleanly (kafkajs loads
 * its encoder once per process). Usage: raw-produce.ts <brokers> <topicPrefix> <events> [fast]
 * Prints `{"eventsPerSecond": n}`.
 */
import { envelopeHeaders, uuidV7 } from '@tributary/core';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { installFastRecordEncoder } from '@tributary/kafkajs';

const [brokers = '', prefix = 'bench', eventsText = '100000', mode = 'stock'] =
  process.argv.slice(2);
const events = Number(eventsText);
if (mode === 'fast' && !installFastRecordEncoder()) throw new Error('fast encoder not installed');
const TYPES = ['Account', 'Transfer', 'Order', 'Invoice', 'Shipment'];
const value = Buffer.from(
  '{"note": "benchmark event with a realistic small payload", "lines": [{"sku": "SKU-1", "quantity": 2, "priceCents": 1999}], "orderId": "order-1"}',
);
const kafka = new Kafka({
  clientId: 'bench-raw',
  brokers: brokers.split(','),
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
const topics = TYPES.map((type) => `${prefix}.raw-${mode}.${type}`);
await admin.createTopics({
  waitForLeaders: true,
  topics: topics.map((topic) => ({ topic, numPartitions: 3 })),
});
await admin.disconnect();
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner,
});
await producer.connect();
// The same record shape as the capturer's: key, JSON payload, the envelope headers.
const records = Array.from({ length: events }, (_, index) => {
  const headers = envelopeHeaders({
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
  return {
    topic: topics[index % TYPES.length] ?? '',
    message: { key: `agg-${index % 1000}`, value, headers },
  };
});
const perRequest = Math.floor((900 * 1024) / 560);
const started = performance.now();
for (let offset = 0; offset < records.length; offset += perRequest) {
  const byTopic = new Map<
    string,
    { key: string; value: Buffer; headers: Record<string, string> }[]
  >();
  for (const record of records.slice(offset, offset + perRequest)) {
    let messages = byTopic.get(record.topic);
    if (messages === undefined) byTopic.set(record.topic, (messages = []));
    messages.push(record.message);
  }
  await producer.sendBatch({
    acks: -1,
    topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
  });
}
const ms = performance.now() - started;
await producer.disconnect();
process.stdout.write(`${JSON.stringify({ eventsPerSecond: Math.round((events * 1000) / ms) })}\n`);
process.exit(0);
