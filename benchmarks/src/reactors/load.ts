/**
 * The load process of `npm run bench:reactors`: produces counter events to Kafka at a steady
 * rate (env RATE events/s for SECONDS), in small transactions every 10 ms, as a capturer
 * would. Each event's `occurredAt` is stamped just before its transaction commits: the
 * "source event commit" of the latency measurement. Prints `{"produced":n}` and exits.
 */
import { counterEnvelope } from '@tributary/testing';
import { createKafkajsClient } from '@tributary/kafkajs';
import { envelopeHeaders } from '@tributary/core';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};
const rate = Number(env('RATE'));
const seconds = Number(env('SECONDS'));
const topic = env('TOPIC');
const counters = 100;
const kafka = createKafkajsClient({
  brokers: env('KAFKA_BROKERS').split(','),
  clientId: 'bench-load',
});
const producer = kafka.producer({ transactionalId: `bench-load-${process.pid}` });
await producer.connect();
const versions = new Array<number>(counters).fill(0);
let produced = 0;
const started = Date.now();
const total = rate * seconds;
while (produced < total) {
  const due = Math.min(total, Math.floor(((Date.now() - started) / 1_000) * rate));
  const messages = [];
  for (let index = produced; index < due; index += 1) {
    const counter = index % counters;
    versions[counter] = (versions[counter] ?? 0) + 1;
    const envelope = counterEnvelope(`c${counter}`, versions[counter] ?? 1, {
      occurredAt: new Date(),
    });
    messages.push({
      key: envelope.aggregateId,
      value: JSON.stringify(envelope.payload),
      headers: envelopeHeaders(envelope),
    });
  }
  if (messages.length > 0) {
    const transaction = await producer.begin();
    await transaction.send([{ topic, messages }]);
    await transaction.commit();
    produced += messages.length;
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
}
await producer.disconnect();
process.stdout.write(`${JSON.stringify({ produced })}\n`);
