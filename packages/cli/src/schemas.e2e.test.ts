/**
 * Registry encoding from the command line, on the real stack: `tributary capture` with a
 * declarations module (from a config file's `schemas` section) publishes Avro, Protobuf
 * and JSON Schema records in the registry wire format, and `tributary project` with the
 * registry URL decodes them into a read model. Both run as operators run them: the bin as a
 * process of its own, the modules outside the repository.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createRecordValueDecoder,
  decodeWireFormat,
  EventHeaders,
  headerValue,
  REGISTRY_CONTENT_TYPE,
  uuidV7,
  type KafkaRecord,
} from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import {
  ConfluentSchemaRegistryClient,
  createDefaultSchemaCodecs,
  migrateOutbox,
  PostgresEventStore,
} from '@tributary/outbox';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

const env = await useIntegrationEnv({ label: 'cli_schemas' });
const BIN = fileURLToPath(new URL('../bin/tributary.mjs', import.meta.url));
const topicPrefix = env.topic('events');
const topic = `${topicPrefix}.Counter`;
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
const kafka = createKafkajsClient({ brokers: env.kafkaBrokers });
const outside = await mkdtemp(join(tmpdir(), 'tributary-schemas-'));
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await store.close();
  await pool.end();
  await rm(outside, { recursive: true, force: true });
});

const PROTO = `syntax = "proto3";
package acme.counters.v1;

import "google/protobuf/timestamp.proto";
import "acme/counters/common/v1/delta.proto";

message Decremented {
  enum Reason { REASON_UNSPECIFIED = 0; CORRECTION = 1; REFUND = 2; }
  int32 by = 1;
  Reason reason = 2;
  google.protobuf.Timestamp at = 3;
  int64 ledger_sequence = 4;
  bytes signature = 5;
}

// Uses a message of a file registered as a schema reference (its import path is its subject).
message Reset { acme.counters.common.v1.Delta delta = 1; }
`;

const DELTA_PROTO = `syntax = "proto3";
package acme.counters.common.v1;

message Delta { int32 by = 1; string reason = 2; }
`;

const AMOUNT_AVRO = {
  type: 'record',
  name: 'Amount',
  namespace: 'acme.counters.common',
  fields: [{ name: 'by', type: 'int' }],
};
const ADJUSTED_AVRO = {
  type: 'record',
  name: 'Adjusted',
  namespace: 'acme.counters',
  fields: [{ name: 'amount', type: 'acme.counters.common.Amount' }],
};

const INCREMENTED_AVRO = {
  type: 'record',
  name: 'Incremented',
  namespace: 'acme.counters',
  fields: [{ name: 'by', type: 'int' }],
};
const NOTED_JSON_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Noted', // Confluent's record strategies name JSON subjects by title
  type: 'object',
  properties: { text: { type: 'string' } },
  required: ['text'],
  additionalProperties: false,
};

const SCHEMAS = `import { readFileSync } from 'node:fs';
import {
  avroReference,
  avroSchema,
  defineEventSchemas,
  jsonSchema,
  protobufReference,
  protobufSchema,
} from '@tributary/core';

const counters = readFileSync(new URL('./counters.proto', import.meta.url), 'utf8');
const delta = protobufReference({
  path: 'acme/counters/common/v1/delta.proto',
  schema: readFileSync(new URL('./acme/counters/common/v1/delta.proto', import.meta.url), 'utf8'),
});
const amount = avroReference({ schema: ${JSON.stringify(AMOUNT_AVRO)} });

export default defineEventSchemas([
  avroSchema({
    aggregateType: 'Counter',
    eventType: 'Incremented',
    schema: ${JSON.stringify(INCREMENTED_AVRO)},
  }),
  protobufSchema({
    aggregateType: 'Counter',
    eventType: 'Decremented',
    schema: counters,
    references: [delta],
  }),
  protobufSchema({
    aggregateType: 'Counter',
    eventType: 'Reset',
    schema: counters,
    recordName: 'Reset',
    references: [delta],
  }),
  avroSchema({
    aggregateType: 'Counter',
    eventType: 'Adjusted',
    schema: ${JSON.stringify(ADJUSTED_AVRO)},
    references: [amount],
  }),
  jsonSchema({
    aggregateType: 'Counter',
    eventType: 'Noted',
    schema: ${JSON.stringify(NOTED_JSON_SCHEMA)},
  }),
]);
`;

const PROJECTIONS = `import { defineProjection } from '@tributary/projections';

const add = (by) => async (event, { trx, tables }) => {
  await trx.raw(
    'insert into ?? as t (counter_id, total, events) values (?, ?, 1) on conflict (counter_id) do update set total = t.total + excluded.total, events = t.events + 1',
    [tables.schema_totals, event.aggregateId, by(event.payload)],
  );
};

export const projections = [
  defineProjection({
    name: 'cli_schema_totals',
    version: 1,
    aggregateTypes: ['Counter'],
    tables: ['schema_totals'],
    migrations: [
      {
        name: '0001_totals',
        async up(_trx, migration) {
          await migration.createTable('schema_totals', (table) => {
            table.text('counter_id').primary();
            table.integer('total').notNullable();
            table.integer('events').notNullable();
          });
        },
      },
    ],
    handlers: {
      Incremented: add((payload) => payload.by),
      Decremented: add((payload) => -payload.by),
      Noted: add((payload) => (typeof payload.text === 'string' ? 0 : Number.NaN)),
      Adjusted: add((payload) => payload.amount.by),
      Reset: add((payload) => -payload.delta.by),
    },
  }),
];
`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, logs: () => string) {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; logs:\n${logs()}`);
    await sleep(250);
  }
}

function start(args: readonly string[], extraEnv: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: outside,
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      KAFKA_BROKERS: env.kafkaBrokers.join(','),
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let logs = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, logs: () => logs, exited };
}

async function records(): Promise<KafkaRecord[]> {
  const found: KafkaRecord[] = [];
  try {
    await kafka.readCommitted(topic, (record: KafkaRecord) => {
      found.push(record);
    });
  } catch {
    return []; // the capturer has not created the topic yet
  }
  return found;
}

/** The virtualenv scripts/ci-prereqs.sh creates (confluent-kafka[avro,json,protobuf]). */
const PYTHON =
  process.env.TRIBUTARY_PYTHON ??
  join(
    process.env.TRIBUTARY_CACHE_DIR ?? join(homedir(), '.cache', 'tributary'),
    'python-venv',
    'bin',
    'python',
  );
const INTEROP = fileURLToPath(
  new URL('../../../interop/python/tributary_interop.py', import.meta.url),
);

interface PythonLine {
  readonly eventId?: string;
  readonly format: string;
  readonly schemaId: number;
  readonly payload?: unknown;
}

/** Runs the interop script with Confluent's client; its JSON lines. */
async function runPython(args: readonly string[]): Promise<PythonLine[]> {
  if (!existsSync(PYTHON)) {
    throw new Error(
      `no Python virtualenv at ${PYTHON}: run scripts/ci-prereqs.sh (or set TRIBUTARY_PYTHON)`,
    );
  }
  const child = spawn(
    PYTHON,
    [
      INTEROP,
      ...args,
      '--bootstrap',
      env.kafkaBrokers.join(','),
      '--registry',
      env.schemaRegistryUrl,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0)
    throw new Error(`python ${args[0] ?? ''} exited ${String(code)}:\n${err}\n${out}`);
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as PythonLine);
}

describe('tributary capture --schemas and tributary project --registry-url', () => {
  it('publish Avro, Protobuf and JSON Schema records through the registry and project them', async () => {
    await writeFile(join(outside, 'schemas.mjs'), SCHEMAS);
    await writeFile(join(outside, 'counters.proto'), PROTO);
    await mkdir(join(outside, 'acme/counters/common/v1'), { recursive: true });
    await writeFile(join(outside, 'acme/counters/common/v1/delta.proto'), DELTA_PROTO);
    await writeFile(join(outside, 'projections.mjs'), PROJECTIONS);
    // The module path in the file is relative to the file; the registry comes from the
    // environment, as an operator would keep a URL with credentials.
    await writeFile(
      join(outside, 'capture.json'),
      JSON.stringify({
        name: env.name('schemas'),
        router: { topicPrefix },
        topics: { checkpointTopic: env.topic('checkpoints'), partitions: 1 },
        heartbeatIntervalMs: 0,
        schemas: { module: './schemas.mjs', registration: 'auto', subjectStrategy: 'topic-record' },
      }),
    );

    const capture = start(['capture', '--config', join(outside, 'capture.json')], {
      SCHEMA_REGISTRY_URL: env.schemaRegistryUrl,
    });
    try {
      // Only rows committed after the slot exists are captured.
      await until(
        'the checkpoint load',
        () => capture.logs().includes('loaded Kafka checkpoint'),
        capture.logs,
      );
      const appended = await store.appendToStream(
        { aggregateType: 'Counter', aggregateId: 'c-1' },
        [
          { type: 'Incremented', data: { by: 5 } },
          {
            type: 'Decremented',
            data: {
              by: 2,
              reason: 'REFUND',
              at: '2026-12-01T17:00:00.250Z',
              ledger_sequence: '9007199254740993',
              signature: 'AAEC+g==',
            },
          },
          { type: 'Noted', data: { text: 'hello' } },
          { type: 'Incremented', data: { by: 10 } },
          { type: 'Adjusted', data: { amount: { by: 3 } } },
          { type: 'Reset', data: { delta: { by: 1, reason: 'recount' } } },
        ],
      );
      await until('six records', async () => (await records()).length >= 6, capture.logs);
      const published = await records();
      expect(published.map((r) => headerValue(r.headers, EventHeaders.eventId))).toEqual(
        appended.events.map((event) => event.eventId),
      );
      const registry = new ConfluentSchemaRegistryClient({ url: env.schemaRegistryUrl });
      const formats: string[] = [];
      for (const record of published) {
        expect(headerValue(record.headers, 'content-type')).toBe(REGISTRY_CONTENT_TYPE);
        const { schemaId } = decodeWireFormat(Uint8Array.from(record.value ?? []));
        formats.push((await registry.getById(schemaId)).format);
      }
      expect(formats).toEqual(['AVRO', 'PROTOBUF', 'JSON', 'AVRO', 'AVRO', 'PROTOBUF']);
      // Shared types were registered under their own subjects and referenced.
      const adjusted = await registry.getById(
        decodeWireFormat(Uint8Array.from(published[4]?.value ?? [])).schemaId,
      );
      expect(adjusted.references).toEqual([
        { name: 'acme.counters.common.Amount', subject: 'acme.counters.common.Amount', version: 1 },
      ]);
      const reset = await registry.getById(
        decodeWireFormat(Uint8Array.from(published[5]?.value ?? [])).schemaId,
      );
      expect(reset.references).toEqual([
        {
          name: 'acme/counters/common/v1/delta.proto',
          subject: 'acme/counters/common/v1/delta.proto',
          version: 1,
        },
      ]);
      // Confluent's Python client decodes every record, through the registry, to what
      // Tributary's decoder gives.
      const decoder = createRecordValueDecoder({ registry, codecs: createDefaultSchemaCodecs() });
      const python = await runPython([
        'consume',
        '--topic',
        topic,
        '--count',
        String(published.length),
        '--proto',
        join(outside, 'counters.proto'),
      ]);
      expect(python.map((line) => [line.eventId, line.format])).toEqual(
        appended.events.map((event, index) => [event.eventId, formats[index]]),
      );
      for (const [index, record] of published.entries()) {
        const ours = await decoder.decode(Uint8Array.from(record.value ?? []));
        expect(python[index]?.payload).toEqual(ours.payload);
      }
      expect(python[1]?.payload).toEqual({
        by: 2,
        reason: 'REFUND',
        at: '2026-12-01T17:00:00.250Z',
        ledger_sequence: '9007199254740993',
        signature: 'AAEC+g==',
      });
      expect(python[4]?.payload).toEqual({ amount: { by: 3 } });
      expect(python[5]?.payload).toEqual({ delta: { by: 1, reason: 'recount' } });
      expect(await registry.subjects()).toEqual(
        expect.arrayContaining([`${topic}-Incremented`, `${topic}-Decremented`, `${topic}-Noted`]),
      );
    } finally {
      capture.child.kill('SIGTERM');
    }
    expect(await capture.exited).toBe(0);

    // Records Confluent's Python serializers write (their own subjects and registrations)
    // go to the same topic, for the projection to decode alongside Tributary's.
    const headers = (aggregateVersion: number, eventType: string) => ({
      [EventHeaders.eventId]: uuidV7(),
      [EventHeaders.aggregateType]: 'Counter',
      [EventHeaders.aggregateId]: 'c-2',
      [EventHeaders.aggregateVersion]: String(aggregateVersion),
      [EventHeaders.eventType]: eventType,
      [EventHeaders.schemaVersion]: '1',
      [EventHeaders.occurredAt]: new Date().toISOString(),
    });
    const produced = await runPython([
      'produce',
      '--topic',
      topic,
      '--proto',
      join(outside, 'counters.proto'),
      '--records',
      JSON.stringify([
        {
          format: 'AVRO',
          schema: JSON.stringify(INCREMENTED_AVRO),
          payload: { by: 7 },
          key: 'c-2',
          headers: headers(1, 'Incremented'),
        },
        {
          format: 'PROTOBUF',
          message: 'Decremented',
          payload: { by: 3, reason: 'CORRECTION', at: '2026-12-01T18:00:00Z' },
          key: 'c-2',
          headers: headers(2, 'Decremented'),
        },
        {
          format: 'JSON',
          schema: JSON.stringify(NOTED_JSON_SCHEMA),
          payload: { text: 'from Python' },
          key: 'c-2',
          headers: headers(3, 'Noted'),
        },
      ]),
    ]);
    expect(produced.map((line) => line.format)).toEqual(['AVRO', 'PROTOBUF', 'JSON']);

    const project = start(
      [
        'project',
        '--module',
        join(outside, 'projections.mjs'),
        '--topic-prefix',
        topicPrefix,
        '--group-prefix',
        env.name('group'),
        '--registry-url',
        env.schemaRegistryUrl,
      ],
      { TRIBUTARY_PROJECTION_MAX_WAIT_MS: '50' },
    );
    const totals = async (counter: string) =>
      (
        await pool
          .query<{ total: number; events: number }>(
            'select total, events from public.schema_totals where counter_id = $1',
            [counter],
          )
          .catch(() => ({ rows: [] }))
      ).rows[0];
    try {
      await until(
        'the projected events',
        async () => (await totals('c-1'))?.events === 6 && (await totals('c-2'))?.events === 3,
        project.logs,
      );
      expect(await totals('c-1')).toEqual({ total: 15, events: 6 });
      expect(await totals('c-2')).toEqual({ total: 4, events: 3 });
    } finally {
      project.child.kill('SIGTERM');
    }
    expect(await project.exited).toBe(0);
  }, 180_000);
});
