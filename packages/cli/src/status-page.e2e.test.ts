/**
 * The status page in a real browser: headless Chromium (Debian's `chromium`, installed by
 * scripts/ci-prereqs.sh) opens `/status` of the projection process's observability server
 * on the real stack, and what it draws is compared with `tributary status --json`. The
 * screenshot is kept in .tributary/status-page.png (and, with TRIBUTARY_UPDATE_DOCS=1, as
 * docs/images/status-page.png).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { envelopeHeaders, silentLogger, topicFor, type DomainEvent } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { migrateOutbox, PostgresEventStore } from '@tributary/outbox';
import { createProjectionRuntime, defineProjection } from '@tributary/projections';
import { useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { serveProjectionObservability } from './observability/projections.js';
import { projectionCommand } from './projections/commands.js';
import type { PipelineStatus } from './status/pipeline.js';
import { pipelineStatus } from './status/pipeline.js';
import { pipelineSourceFrom } from './status/settings.js';

const run = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACT = fileURLToPath(new URL('../../../.tributary/status-page.png', import.meta.url));
const DOCS_IMAGE = fileURLToPath(new URL('../../../docs/images/status-page.png', import.meta.url));

const env = await useIntegrationEnv({ label: 'cli_page' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const kafka = createKafkajsClient({ clientId: 'page-test', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 4 } });
const topicPrefix = env.topic('events');
const topic = topicFor({ topicPrefix }, 'Meter');
const cliEnv = {
  DATABASE_URL: env.databaseUrl,
  KAFKA_BROKERS: env.kafkaBrokers.join(','),
  TRIBUTARY_TOPIC_PREFIX: topicPrefix,
  TRIBUTARY_CAPTURE_NAME: env.name('page'),
};
afterAll(async () => {
  await store.close();
  await knex.destroy();
});

type MeterEvent = DomainEvent<'Read', { readonly value: number }>;
const meters = defineProjection<MeterEvent, 'readings'>({
  name: 'page_meters',
  version: 1,
  aggregateTypes: ['Meter'],
  tables: ['readings'],
  migrations: [
    {
      name: '0001_readings',
      async up(_trx, migration) {
        await migration.createTable('readings', (table) => {
          table.text('meter_id').primary();
          table.integer('value').notNullable();
        });
      },
    },
  ],
  handlers: {
    async Read(event, { trx, tables }) {
      await trx.raw(
        'insert into ?? (meter_id, value) values (?, ?) on conflict (meter_id) do update set value = excluded.value',
        [tables.readings, event.aggregateId, event.payload.value],
      );
    },
  },
});

/** `data-field` values of the rendered DOM, per projection / topic block where they repeat. */
function fields(dom: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const match of dom.matchAll(/data-field="([^"]+)"[^>]*>([^<]*)</g)) {
    const [, name, value] = match as unknown as [string, string, string];
    found.set(name, [...(found.get(name) ?? []), value.replace(/&amp;/g, '&')]);
  }
  return found;
}

describe('the status page', () => {
  it('draws the pipeline as `tributary status --json` reports it, in headless Chromium', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
    await admin.disconnect();
    const appended = await store.appendToStream({ aggregateType: 'Meter', aggregateId: 'm1' }, [
      { type: 'Read', data: { value: 7 } },
      { type: 'Read', data: { value: 9 } },
    ]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send([
      {
        topic,
        messages: appended.events.map((event) => ({
          key: event.aggregateId,
          value: JSON.stringify(event.payload),
          headers: envelopeHeaders(event),
        })),
      },
    ]);
    await producer.disconnect();
    const runtime = createProjectionRuntime({
      kafka,
      knex,
      projections: [meters],
      config: { topicPrefix, groupIdPrefix: env.name('page'), sessionTimeoutMs: 6_000 },
    });
    const source = pipelineSourceFrom({}, cliEnv, topicPrefix);
    const server = await serveProjectionObservability(
      { port: 0, host: '127.0.0.1', readyMaxLag: 1000 },
      {
        runtime,
        kafka,
        projections: [meters],
        logger: silentLogger,
        pipeline: (projections) => pipelineStatus({ ...source, kafka, projections }),
      },
    );
    await runtime.start();
    try {
      const deadline = Date.now() + 40_000;
      while ((await knex('public.readings_v1').where({ value: 9 })).length === 0) {
        if (Date.now() > deadline) throw new Error('the projection never applied the readings');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const lines: string[] = [];
      const code = await projectionCommand(
        'status',
        ['--json'],
        { out: (line) => lines.push(line), err: (line) => lines.push(line) },
        cliEnv,
      );
      expect(code).toBe(0);
      const expected = JSON.parse(lines.join('\n')) as PipelineStatus;
      const served = (await (
        await fetch(`http://127.0.0.1:${server.port}/status.json`)
      ).json()) as PipelineStatus;
      expect(served).toEqual(expected);

      const url = `http://127.0.0.1:${server.port}/status?refresh=60`;
      const browser = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars'];
      const { stdout: dom } = await run(
        CHROMIUM,
        [...browser, '--virtual-time-budget=5000', '--dump-dom', url],
        { timeout: 30_000 },
      );
      expect(dom).toContain('data-loaded="true"');
      const shown = fields(dom);
      const [projection] = expected.projections;
      expect(shown.get('slot.name')).toEqual([expected.capture.slot.name]);
      expect(shown.get('slot.state')).toEqual([
        expected.capture.slot.exists
          ? expected.capture.slot.active
            ? 'active'
            : 'inactive'
          : 'missing',
      ]);
      expect(shown.get('capture.name')).toEqual([expected.capture.name]);
      expect(shown.get('capture.state')).toEqual([expected.capture.capturer]);
      expect(shown.get('capture.checkpoint')).toEqual([expected.capture.checkpointLsn ?? '-']);
      expect(shown.get('topic.name')).toEqual(expected.topics.map((t) => t.topic));
      expect(shown.get('topic.endOffset')).toEqual(expected.topics.map((t) => String(t.endOffset)));
      expect(shown.get('projection.name')).toEqual([`page_meters v1`]);
      expect(shown.get('projection.status')).toEqual([projection?.status]);
      expect(shown.get('projection.lag')).toEqual([String(projection?.lag)]);
      expect(shown.get('projection.parked')).toEqual([String(projection?.parkedEvents)]);

      await mkdir(fileURLToPath(new URL('.', `file://${ARTIFACT}`)), { recursive: true });
      await run(
        CHROMIUM,
        [
          ...browser,
          '--virtual-time-budget=5000',
          '--window-size=1200,420',
          `--screenshot=${ARTIFACT}`,
          url,
        ],
        { timeout: 30_000 },
      );
      if (process.env.TRIBUTARY_UPDATE_DOCS === '1') await copyFile(ARTIFACT, DOCS_IMAGE);
    } finally {
      await runtime.stop();
      await server.close();
    }
  }, 120_000);
});
