/**
 * `tributary project` as an operator runs it: the bin started as its own process group
 * (as npx, systemd and container runtimes start it), from a directory outside the
 * repository, with a projections module that lives outside the repository too and imports
 * `@tributary/projections` and `@tributary/core` by their bare names.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uuidV7 } from '@tributary/core';
import { counterEnvelope, recordOf, useIntegrationEnv } from '@tributary/testing';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

const env = await useIntegrationEnv({ label: 'cli_project' });
const BIN = fileURLToPath(new URL('../bin/tributary.mjs', import.meta.url));
const topicPrefix = env.topic('events');
const topic = `${topicPrefix}.Counter`;
const projectionName = 'cli_counters';

const outside = await mkdtemp(join(tmpdir(), 'tributary-operator-'));
const kafka = new Kafka({
  clientId: env.name('cli'),
  brokers: [...env.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
afterAll(async () => {
  await pool.end();
  await rm(outside, { recursive: true, force: true });
});

const MODULE = `import { defineProjection } from '@tributary/projections';
import { UpcasterChain } from '@tributary/core';

export const upcasters = new UpcasterChain();

export const projections = [
  defineProjection({
    name: '${projectionName}',
    version: 1,
    aggregateTypes: ['Counter'],
    tables: ['cli_totals'],
    migrations: [
      {
        name: '0001_totals',
        async up(_trx, migration) {
          await migration.createTable('cli_totals', (table) => {
            table.text('counter_id').primary();
            table.integer('total').notNullable();
          });
        },
      },
    ],
    handlers: {
      async Incremented(event, { trx, tables }) {
        await trx.raw(
          'insert into ?? as t (counter_id, total) values (?, ?) on conflict (counter_id) do update set total = t.total + excluded.total',
          [tables.cli_totals, event.aggregateId, event.payload.by],
        );
      },
    },
  }),
];
`;

/** A projection whose handler never settles: the process must not sit there forever. */
const HANGING_MODULE = `import { defineProjection } from '@tributary/projections';

export const projections = [
  defineProjection({
    name: 'cli_stuck',
    version: 1,
    aggregateTypes: ['Stuck'],
    tables: [],
    migrations: [],
    handlers: {
      Incremented: () => new Promise(() => undefined),
    },
  }),
];
`;

/** Commits one Kafka transaction with `versions` events of `counterId` (to `toTopic`). */
async function produce(
  counterId: string,
  versions: readonly number[],
  toTopic = topic,
): Promise<void> {
  const producer = kafka.producer({
    transactionalId: env.name(`producer_${uuidV7()}`),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({
    topic: toTopic,
    messages: versions.map((version) => {
      const record = recordOf(counterEnvelope(counterId, version));
      return {
        key: counterId,
        value: Buffer.from(record.value ?? []),
        headers: { ...record.headers },
      };
    }),
  });
  await transaction.commit();
  await producer.disconnect();
}

let exitedEarly = (): boolean => false;

async function until(
  what: string,
  condition: () => Promise<boolean> | boolean,
  output: () => unknown,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > deadline || exitedEarly()) {
      throw new Error(
        `timed out waiting for ${what}; output:\n${JSON.stringify(output(), null, 1)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function totals(): Promise<Record<string, number>> {
  const { rows } = await pool
    .query<{ counter_id: string; total: number }>('select counter_id, total from public.cli_totals')
    .catch(() => ({ rows: [] }));
  return Object.fromEntries(rows.map((row) => [row.counter_id, row.total]));
}

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [field: string]: unknown;
}

/** Starts `tributary project` on `modulePath` as its own process group, JSON logs at debug. */
function startProject(modulePath: string, extraArgs: readonly string[]) {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'project',
      '--module',
      modulePath,
      '--topic-prefix',
      topicPrefix,
      '--group-prefix',
      env.name('group'),
      ...extraArgs,
      '--log-level',
      'debug',
      '--log-format',
      'json',
    ],
    {
      cwd: outside,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DATABASE_URL: env.databaseUrl,
        KAFKA_BROKERS: env.kafkaBrokers.join(','),
        TRIBUTARY_PROJECTION_SESSION_TIMEOUT_MS: '10000',
        TRIBUTARY_PROJECTION_MAX_WAIT_MS: '50',
      },
    },
  );
  const lines: LogLine[] = [];
  const other: string[] = [];
  let buffered = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts.filter((line) => line.trim() !== '')) {
      try {
        lines.push(JSON.parse(part) as LogLine);
      } catch {
        other.push(part);
      }
    }
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => other.push(chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  exitedEarly = () => child.exitCode !== null;
  const output = (): unknown => ({ lines: lines.slice(-30), other });
  const logged = (message: string): LogLine[] => lines.filter((line) => line.message === message);
  return { child, exited, lines, other, output, logged };
}

describe('tributary project', () => {
  it('runs a module from outside the repository, logs batches at debug, and stops gracefully on SIGTERM to its process group', async () => {
    const modulePath = join(outside, 'projections.mjs');
    await writeFile(modulePath, MODULE);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    await produce('c0', [1, 2, 3, 4, 5]);

    const { child, exited, logged, output, other } = startProject(modulePath, [
      '--heartbeat-interval-ms',
      '1000',
      '--batch-size',
      '100',
      '--concurrency',
      '1',
    ]);
    try {
      // The commit's log line is written after the commit the read model shows, so it may
      // reach this process a moment later: wait for the lines covering all five as well.
      const loggedCount = (): number =>
        logged('batch committed').reduce((sum, line) => sum + Number(line.count), 0);
      await until(
        'the first five events and their batch lines',
        async () => (await totals()).c0 === 5 && loggedCount() >= 5,
        output,
      );
      const committed = logged('batch committed');
      expect(committed.length).toBeGreaterThan(0);
      expect(committed[0]).toMatchObject({
        level: 'debug',
        projection: projectionName,
        topic,
        partition: 0,
        firstOffset: 0,
      });
      expect(committed.reduce((sum, line) => sum + Number(line.count), 0)).toBe(5);

      // Another instance got ahead (a zombie's successor): the next three records are
      // below the stored checkpoint when they arrive, and must be skipped, not applied.
      const [end] = await admin.fetchTopicOffsets(topic);
      const high = Number(end?.high);
      const bumped = await pool.query(
        `update tributary.projection_checkpoints set next_offset = $1 where projection = $2 and partition = 0`,
        [high + 3, projectionName],
      );
      expect(bumped.rowCount).toBe(1);
      await produce('skipped', [1, 2, 3]);
      await until(
        'the skip',
        () => logged('records skipped below the checkpoint').length > 0,
        output,
      );
      expect(logged('records skipped below the checkpoint')[0]).toMatchObject({
        level: 'debug',
        projection: projectionName,
        topic,
        partition: 0,
        firstOffset: high,
        lastOffset: high + 2,
        count: 3,
      });
      await produce('c0', [6]);
      await until('the sixth event', async () => (await totals()).c0 === 6, output);
      expect((await totals()).skipped).toBeUndefined();
    } finally {
      await admin.disconnect();
      // As npx, systemd and container runtimes deliver it: to the whole process group.
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    }
    const exit = await exited;
    expect({ exit, other }).toEqual({ exit: { code: 0, signal: null }, other: [] });
    expect(logged('stopping')).toEqual([expect.objectContaining({ signal: 'SIGTERM' })]);
    expect(logged('stopped')).toHaveLength(1);
  }, 180_000);

  it('exits non-zero with PROJECTION_STALLED when a handler never settles, instead of sitting on its lag', async () => {
    const modulePath = join(outside, 'stuck.mjs');
    await writeFile(modulePath, HANGING_MODULE);
    const stuckTopic = `${topicPrefix}.Stuck`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: stuckTopic, numPartitions: 1 }],
    });
    await admin.disconnect();
    await produce('s0', [1, 2], stuckTopic);
    const started = Date.now();
    const { child, exited, logged, other, output } = startProject(modulePath, [
      '--stall-timeout-ms',
      '2000',
    ]);
    try {
      const exit = await Promise.race([
        exited,
        new Promise<'still running'>((resolve) =>
          setTimeout(() => resolve('still running'), 60_000),
        ),
      ]);
      expect(exit, JSON.stringify(output())).toEqual({ code: 1, signal: null });
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
      expect(logged('projection stalled'), JSON.stringify(output())).toEqual([
        expect.objectContaining({
          level: 'error',
          projection: 'cli_stuck',
          partitions: `${stuckTopic}/0@0<${await endOffset(stuckTopic)}`,
        }),
      ]);
      expect(other.join('\n')).toMatch(/PROJECTION_STALLED/);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    }
  }, 120_000);
});

/** The partition-0 end offset of `of` (its transaction marker included). */
async function endOffset(of: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [end] = await admin.fetchTopicOffsets(of);
    return Number(end?.high);
  } finally {
    await admin.disconnect();
  }
}
