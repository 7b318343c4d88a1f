/**
 * `tributary capture` as an operator runs it: the bin as a process of its own. After a
 * retriable failure (here: its walsender terminated by PostgreSQL) the capturer restarts in
 * process from the Kafka checkpoint and keeps running; it exits only on a signal (0) or a halt.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EventHeaders, headerValue, type KafkaRecord } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { migrateOutbox, PostgresEventStore } from '@tributary/outbox';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

const env = await useIntegrationEnv({ label: 'cli_capture' });
const BIN = fileURLToPath(new URL('../bin/tributary.mjs', import.meta.url));
const name = env.name('restarts');
const topicPrefix = env.topic('events');
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
const kafka = createKafkajsClient({ brokers: env.kafkaBrokers });

afterAll(async () => {
  await store.close();
  await pool.end();
});

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

async function eventIdsInKafka(): Promise<string[]> {
  const ids: string[] = [];
  await kafka.readCommitted(`${topicPrefix}.Account`, (record: KafkaRecord) => {
    const id = headerValue(record.headers, EventHeaders.eventId);
    if (id !== undefined) ids.push(id);
  });
  return ids;
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('tributary capture', () => {
  it('restarts in process after its walsender is terminated, keeps publishing, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'capture'], {
      env: {
        ...process.env,
        DATABASE_URL: env.databaseUrl,
        KAFKA_BROKERS: env.kafkaBrokers.join(','),
        TRIBUTARY_CAPTURE_NAME: name,
        TRIBUTARY_TOPIC_PREFIX: topicPrefix,
        TRIBUTARY_CHECKPOINT_TOPIC: env.topic('checkpoints'),
        TRIBUTARY_HEARTBEAT_INTERVAL_MS: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
    });
    try {
      await until('the checkpoint load', () => logs.includes('loaded Kafka checkpoint'));
      const first = await store.appendToStream({ aggregateType: 'Account', aggregateId: 'a-1' }, [
        { type: 'AccountOpened', data: { owner: 'Ada' } },
      ]);
      await until('the first event in Kafka', async () =>
        (await eventIdsInKafka()).includes(first.events[0]?.eventId ?? ''),
      );

      // A retriable failure: PostgreSQL ends the capturer's replication connection.
      const terminated = await pool.query<{ ok: boolean }>(
        `select pg_terminate_backend(active_pid) as ok from pg_replication_slots
          where slot_name = $1 and active_pid is not null`,
        [`tributary_${name}`],
      );
      expect(terminated.rows).toEqual([{ ok: true }]);
      await until('the restart', () => logs.includes('restarting from the Kafka checkpoint'));
      // Longer than the back-off (500 ms): a process that ends during it is caught here.
      await sleep(2_000);
      expect(child.exitCode).toBeNull();

      const second = await store.appendToStream({ aggregateType: 'Account', aggregateId: 'a-1' }, [
        { type: 'MoneyDeposited', data: { amount: 5 } },
      ]);
      await until('the second event in Kafka', async () =>
        (await eventIdsInKafka()).includes(second.events[0]?.eventId ?? ''),
      );
      const ids = await eventIdsInKafka();
      expect(ids).toEqual([first.events[0]?.eventId, second.events[0]?.eventId]);
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(logs).toContain('capturer stopped');
  }, 120_000);

  it('halts with CAPTURE_OUTBOX_MISSING (exit 1) when the outbox was never migrated, instead of restarting', async () => {
    const child = spawn(process.execPath, [BIN, 'capture'], {
      env: {
        ...process.env,
        DATABASE_URL: env.databaseUrl,
        KAFKA_BROKERS: env.kafkaBrokers.join(','),
        TRIBUTARY_CAPTURE_NAME: env.name('unmigrated'),
        TRIBUTARY_SCHEMA: 'never_migrated',
        TRIBUTARY_TOPIC_PREFIX: env.topic('unmigrated'),
        TRIBUTARY_CHECKPOINT_TOPIC: env.topic('unmigrated-checkpoints'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (exitCode) => resolve(exitCode));
    });
    expect(code).toBe(1);
    expect(logs).toContain('CAPTURE_OUTBOX_MISSING');
    expect(logs).toContain('tributary migrate');
    expect(logs).not.toContain('restarting from the Kafka checkpoint');
  }, 120_000);
});
