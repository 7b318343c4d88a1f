/**
 * `npm run bench:schemas`: encode and decode rates of event payloads as plain JSON, JSON
 * Schema, Avro and Protobuf in the registry wire format, in process with schema ids cached
 * (the steady state of the capturer and of a projection); then the WAL capturer's drain rate
 * with registry encoding off and on (JSON Schema, Avro), measured in the same run on the
 * local stack (see bench-capture.ts). BENCH_ITERATIONS (default 200000) sizes the in-process
 * cases, BENCH_CAPTURE_EVENTS (default 50000; 0 skips) the capture backlog.
 */
import {
  avroSchema,
  createRecordValueDecoder,
  defineEventSchemas,
  jsonSchema,
  protobufSchema,
  uuidV7,
  type EventEnvelope,
} from '@tributary/core';
import { InMemorySchemaRegistry } from '@tributary/testing';
import { createDefaultSchemaCodecs, createRegistryEncoder } from '@tributary/outbox';
import { benchCaptureEncoding } from './capture-encoding.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200_000);
const TOPIC = 'events.Account';

const fields = {
  accountId: 'acc-0001',
  amount: 125_000,
  currency: 'EUR',
  memo: 'monthly rent, flat 3B',
  booked: true,
};
const catalog = defineEventSchemas([
  jsonSchema({
    aggregateType: 'Account',
    eventType: 'DepositedJson',
    schema: {
      type: 'object',
      properties: {
        accountId: { type: 'string' },
        amount: { type: 'integer' },
        currency: { type: 'string', enum: ['EUR', 'USD'] },
        memo: { type: 'string', maxLength: 140 },
        booked: { type: 'boolean' },
      },
      required: ['accountId', 'amount', 'currency'],
      additionalProperties: false,
    },
  }),
  avroSchema({
    aggregateType: 'Account',
    eventType: 'DepositedAvro',
    schema: {
      type: 'record',
      name: 'Deposited',
      namespace: 'bench',
      fields: [
        { name: 'accountId', type: 'string' },
        { name: 'amount', type: 'long' },
        { name: 'currency', type: 'string' },
        { name: 'memo', type: 'string' },
        { name: 'booked', type: 'boolean' },
      ],
    },
  }),
  protobufSchema({
    aggregateType: 'Account',
    eventType: 'DepositedProto',
    schema:
      'syntax = "proto3";\npackage bench;\nmessage Deposited { string accountId = 1; int64 amount = 2; string currency = 3; string memo = 4; bool booked = 5; }\n',
  }),
]);

const envelope = (eventType: string): EventEnvelope => ({
  eventId: uuidV7(),
  aggregateType: 'Account',
  aggregateId: 'acc-0001',
  aggregateVersion: 1,
  eventType,
  schemaVersion: 1,
  payload: fields,
  metadata: {},
  occurredAt: new Date().toISOString(),
});

function rate(label: string, run: () => void): number {
  for (let i = 0; i < Math.min(ITERATIONS / 10, 10_000); i += 1) run(); // warm-up (JIT)
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i += 1) run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const perSecond = ITERATIONS / seconds;
  process.stdout.write(
    `  ${label.padEnd(34)} ${Math.round(perSecond).toLocaleString('en-US').padStart(12)} /s\n`,
  );
  return perSecond;
}

const registry = new InMemorySchemaRegistry();
const encoder = createRegistryEncoder({ registry, catalog });
const decoder = createRecordValueDecoder({ registry, codecs: createDefaultSchemaCodecs() });

process.stdout.write(
  `bench:schemas — ${ITERATIONS.toLocaleString('en-US')} events per case, Node ${process.version}, ids cached\n\n`,
);
process.stdout.write('encode (payload → record value; schema formats validate first)\n');
const json = Buffer.from(JSON.stringify(fields));
rate('JSON (plain, no schema)', () => {
  Buffer.from(JSON.stringify(fields), 'utf8');
});
const formats = [
  ['JSON Schema (wire format)', 'DepositedJson'],
  ['Avro (wire format)', 'DepositedAvro'],
  ['Protobuf (wire format)', 'DepositedProto'],
] as const;
const encoded = new Map<string, Buffer>();
for (const [, eventType] of formats) {
  const event = envelope(eventType);
  // The first call registers the schema and caches its id; the loop measures the cached path.
  encoded.set(eventType, (await encoder.encode(TOPIC, event)).value);
}
for (const [label, eventType] of formats) {
  const event = envelope(eventType);
  rate(label, () => {
    encoder.encodeCached(TOPIC, event);
  });
}

process.stdout.write('\ndecode (record value → payload, by magic byte)\n');
rate('JSON (plain)', () => {
  decoder.decodeCached(json);
});
for (const [label, eventType] of formats) {
  const value = encoded.get(eventType) as Buffer;
  await decoder.decode(value);
  rate(label, () => {
    decoder.decodeCached(value);
  });
}

process.stdout.write('\nrecord value sizes\n');
process.stdout.write(`  ${'JSON (plain)'.padEnd(34)} ${json.byteLength} bytes\n`);
for (const [label, eventType] of formats) {
  process.stdout.write(
    `  ${label.padEnd(34)} ${(encoded.get(eventType) as Buffer).byteLength} bytes\n`,
  );
}
const CAPTURE_EVENTS = Number(process.env.BENCH_CAPTURE_EVENTS ?? 50_000);
if (CAPTURE_EVENTS > 0) {
  process.stdout.write(
    `\ncapture throughput, registry encoding on vs off (WAL capturer draining the same ${CAPTURE_EVENTS.toLocaleString('en-US')}-event backlog, transactions of 10, 5 topics × 3 partitions, real registry)\n`,
  );
  const drains = await benchCaptureEncoding(CAPTURE_EVENTS, (line) => {
    process.stdout.write(`${line}\n`);
  });
  const off = drains[0]?.eventsPerSecond ?? Number.NaN;
  for (const drain of drains) {
    process.stdout.write(
      `  ${drain.label.padEnd(40)} ${drain.eventsPerSecond.toLocaleString('en-US').padStart(9)} events/s  (${(drain.eventsPerSecond / off).toFixed(2)} × off; ${drain.seconds.toFixed(2)} s, ${drain.kafkaTransactions} Kafka transactions)\n`,
    );
  }
}
